/*
 * nginx-health: module definition, directives and configuration.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "health_status.h"


typedef struct {
    ngx_str_t  service;
} ngx_http_health_main_conf_t;


static void *ngx_http_health_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_health_init_main_conf(ngx_conf_t *cf, void *conf);


static ngx_command_t  ngx_http_health_commands[] = {

    { ngx_string("health_service"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_health_main_conf_t, service),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_health_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_health_create_main_conf,      /* create main configuration */
    ngx_http_health_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_health_module = {
    NGX_MODULE_V1,
    &ngx_http_health_module_ctx,           /* module context */
    ngx_http_health_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_health_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_main_conf_t));
    if (hmcf == NULL) {
        return NULL;
    }

    return hmcf;
}


static char *
ngx_http_health_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_health_main_conf_t  *hmcf = conf;

    if (hmcf->service.data == NULL) {
        hmcf->service = cf->cycle->hostname;
    }

    return NGX_CONF_OK;
}
