/* elfsym: ELF symbols through libelf, DWARF lines and inlines through libdw; see
 * elfsym.h and docs/internals/symbolize.md. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <libiberty/demangle.h>
#include <unistd.h>

#include "agent/elfsym.h"
#include "agent/symtab.h"
#include "util/arena.h"
#include "util/common.h"

struct load_seg {
	uint64_t offset, filesz, vaddr;
};

struct elfsym {
	int fd;
	Elf *elf;
	char build_id[2 * 64 + 1];
	struct load_seg *loads;
	size_t n_loads;
	struct symtab syms;
	/* Demangled names: index = entry position, 0 = not tried, 1 = not mangled,
	 * else pointer into the arena. */
	const char **demangled;
	struct arena arena;
	bool no_dwarf, no_demangle, dwarf_tried;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	char *path;
};

char *symbolize_demangle(const char *name)
{
	if (!name || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	/* DMGL_AUTO recognises C++, Rust legacy (the hash is only kept with DMGL_VERBOSE)
	 * and Rust v0. */
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}

static int load_symbols(struct elfsym *e)
{
	Elf_Scn *scn = NULL;
	bool have_symtab = false;
	while ((scn = elf_nextscn(e->elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			have_symtab = true;
	}
	/* .symtab is a superset of .dynsym when present; read both anyway when it is not
	 * (stripped files keep .dynsym), and .dynsym as well since some linkers omit
	 * exported names from .symtab. Duplicates are folded by symtab_finish. */
	scn = NULL;
	while ((scn = elf_nextscn(e->elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		if (sh.sh_entsize == 0)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(d, (int)i, &sym))
				break;
			int type = GELF_ST_TYPE(sym.st_info);
			if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
			    sym.st_value == 0)
				continue;
			const char *name = elf_strptr(e->elf, sh.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			/* Versioned .dynsym names never carry "@", but be safe with "foo@@V". */
			size_t len = strcspn(name, "@");
			if (symtab_add(&e->syms, sym.st_value, sym.st_size, name, len, 0) < 0)
				goto done;
		}
		(void)have_symtab;
	}
done:
	symtab_finish(&e->syms);
	e->demangled = xcalloc(e->syms.n ? e->syms.n : 1, sizeof(*e->demangled));
	return 0;
}

int elfsym_open(const char *path, bool no_dwarf, bool no_demangle, struct elfsym **out)
{
	int rc = EMBER_EIO;
	struct elfsym *e = NULL;
	*out = NULL;
	elf_version(EV_CURRENT);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ESRCH ? EMBER_ENOTFOUND
									     : EMBER_EIO;
	e = xcalloc(1, sizeof(*e));
	e->fd = fd;
	e->no_dwarf = no_dwarf;
	e->no_demangle = no_demangle;
	e->path = xstrdup(path);
	symtab_init(&e->syms);
	arena_init(&e->arena, 0);
	e->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF) {
		rc = EMBER_EINVAL;
		goto out;
	}
	const void *bid = NULL;
	ssize_t nb = dwelf_elf_gnu_build_id(e->elf, &bid);
	if (nb > 0 && nb <= 64) {
		for (ssize_t i = 0; i < nb; i++)
			snprintf(e->build_id + 2 * i, 3, "%02x", ((const uint8_t *)bid)[i]);
	}
	size_t nph = 0;
	if (elf_getphdrnum(e->elf, &nph) != 0) {
		rc = EMBER_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		e->loads = xrealloc(e->loads, (e->n_loads + 1) * sizeof(*e->loads));
		e->loads[e->n_loads++] = (struct load_seg){ph.p_offset, ph.p_filesz, ph.p_vaddr};
	}
	rc = load_symbols(e);
	if (rc < 0)
		goto out;
	*out = e;
	e = NULL;
	rc = 0;
out:
	elfsym_free(e);
	return rc;
}

void elfsym_free(struct elfsym *e)
{
	if (!e)
		return;
	if (e->dwfl)
		dwfl_end(e->dwfl);
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	symtab_release(&e->syms);
	arena_release(&e->arena);
	free(e->demangled);
	free(e->loads);
	free(e->path);
	free(e);
}

const char *elfsym_build_id(const struct elfsym *e)
{
	return e->build_id;
}

size_t elfsym_count(const struct elfsym *e)
{
	return e->syms.n;
}

bool elfsym_offset_to_vaddr(const struct elfsym *e, uint64_t file_off, uint64_t *vaddr)
{
	/* A segment's pages are mapped from its page-aligned offset, so the first page of
	 * a segment may hold bytes before p_offset (the previous segment's tail). Prefer
	 * the segment that contains the offset exactly, else the one whose aligned start
	 * does. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < e->n_loads; i++) {
			const struct load_seg *s = &e->loads[i];
			uint64_t start = pass == 0 ? s->offset : s->offset & ~(uint64_t)0xfff;
			if (file_off >= start && file_off < s->offset + s->filesz) {
				*vaddr = file_off - s->offset + s->vaddr;
				return true;
			}
		}
	}
	return false;
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static void attach_dwarf(struct elfsym *e)
{
	e->dwarf_tried = true;
	if (e->no_dwarf)
		return;
	int fd = dup(e->fd);
	if (fd < 0)
		return;
	e->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!e->dwfl) {
		close(fd);
		return;
	}
	dwfl_report_begin(e->dwfl);
	/* ET_DYN placed at its own p_vaddr (base 0, add_p_vaddr): dwfl addresses are then
	 * the ELF virtual addresses for executables and shared objects alike. */
	e->mod = dwfl_report_elf(e->dwfl, "m", e->path, fd, 0, true);
	dwfl_report_end(e->dwfl, NULL, NULL);
	if (!e->mod) {
		dwfl_end(e->dwfl);
		e->dwfl = NULL;
	}
}

static const char *demangled_name(struct elfsym *e, const char *raw, const char **slot)
{
	if (e->no_demangle || !raw)
		return raw;
	if (slot && *slot)
		return *slot == (const char *)1 ? raw : *slot;
	char *d = symbolize_demangle(raw);
	const char *res = raw;
	if (d) {
		res = arena_strndup(&e->arena, d, strlen(d));
		free(d);
	}
	if (slot)
		*slot = res == raw ? (const char *)1 : res;
	return res;
}

/* Name of a DWARF subprogram or inlined subroutine: the linkage name (demangled) when
 * there is one, else DW_AT_name, following abstract origins. */
static const char *die_name(struct elfsym *e, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *ln = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
		ln = dwarf_formstring(&a);
	if (ln)
		return demangled_name(e, ln, NULL);
	return dwarf_diename(die);
}

size_t elfsym_lookup(struct elfsym *e, uint64_t vaddr, struct sym_frame *out, size_t max)
{
	const struct symtab_entry *se = symtab_lookup(&e->syms, vaddr, 4096);
	const char *outer = NULL;
	if (se)
		outer = demangled_name(e, symtab_name(&e->syms, se),
				       &e->demangled[se - e->syms.e]);
	size_t n = 0;
	if (!e->dwarf_tried)
		attach_dwarf(e);
	if (e->mod) {
		Dwarf_Addr bias = 0;
		Dwarf_Die *cudie = dwfl_module_addrdie(e->mod, vaddr, &bias);
		const char *file = NULL;
		int line = 0;
		Dwfl_Line *dl = dwfl_module_getsrc(e->mod, vaddr);
		if (dl)
			file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
		Dwarf_Die *scopes = NULL;
		int ns = cudie ? dwarf_getscopes(cudie, vaddr - bias, &scopes) : 0;
		Dwarf_Files *files = NULL;
		size_t nfiles = 0;
		if (cudie && dwarf_getsrcfiles(cudie, &files, &nfiles) != 0)
			files = NULL;
		for (int i = 0; i < ns && n < max; i++) {
			int tag = dwarf_tag(&scopes[i]);
			if (tag == DW_TAG_inlined_subroutine) {
				if (n + 1 == max)
					break; /* keep the last slot for the outermost function */
				out[n++] = (struct sym_frame){.function = die_name(e, &scopes[i]),
							      .file = file,
							      .line = line,
							      .module_offset = vaddr,
							      .inlined = true};
				/* The caller's position is where this copy was inlined. */
				Dwarf_Attribute a;
				Dwarf_Word cf = 0, cl = 0;
				file = NULL;
				line = 0;
				if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &cf) == 0 &&
				    files)
					file = dwarf_filesrc(files, cf, NULL, NULL);
				if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &cl) == 0)
					line = (int)cl;
			} else if (tag == DW_TAG_subprogram) {
				const char *fn = outer ? outer : die_name(e, &scopes[i]);
				out[n++] = (struct sym_frame){.function = fn, .file = file,
							      .line = line, .module_offset = vaddr};
				break;
			}
		}
		free(scopes);
		if (n > 0 && out[n - 1].inlined) {
			/* No enclosing subprogram found (odd DWARF): the symbol is the caller. */
			out[n++] = (struct sym_frame){.function = outer, .file = file, .line = line,
						      .module_offset = vaddr, .unknown = !outer};
		}
		if (n == 0 && (outer || file))
			out[n++] = (struct sym_frame){.function = outer, .file = file, .line = line,
						      .module_offset = vaddr, .unknown = !outer};
	}
	if (n == 0)
		out[n++] = (struct sym_frame){.function = outer, .module_offset = vaddr,
					      .unknown = !outer};
	return n;
}
