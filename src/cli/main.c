#include "util/common.h"

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	puts("ember: not wired yet");
	return 0;
}
