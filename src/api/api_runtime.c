/* GET /runtime_config (Pyroscope's admin path): the runtime configuration, i.e. the
 * per-tenant limits overrides in force, as YAML. The text comes from the server
 * (server/overrides.c) through api_deps.runtime_config_fn. */
#include "api/api_internal.h"

void api_runtime_config(struct api *api, struct http_request *req, struct http_response *resp)
{
	(void)req;
	resp->body.n = 0;
	if (api->d.runtime_config_fn)
		api->d.runtime_config_fn(api->d.runtime_config_ctx, &resp->body);
	else
		buf_append_cstr(&resp->body, "runtime config file doesn't exist\n");
	/* As Pyroscope's WriteYAMLResponse: text/plain, so browsers show it. */
	resp->content_type = "text/plain; charset=utf-8";
}
