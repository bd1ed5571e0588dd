/*
 * deployex tls-init DIR [--days N] [--host NAME]...: the files of mutual-TLS
 * distribution (DESIGN §7) -- a CA and a node certificate signed by it --
 * made with the OpenSSL library (state/tls.h).  Needs no configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "state/tls.h"
#include "base/banned.h"

static bool host_is_valid(const char *h)
{
        size_t n = strlen(h);

        if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
                return false;
        for (const char *p = h; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
                        return false;
        return true;
}

static int run(const struct cli *cli, int argc, char **argv)
{
        const char *dir = NULL, *hosts[TLS_INIT_HOSTS_MAX];
        char defaults[2][256];
        size_t nhosts = 0;
        uint64_t days = TLS_INIT_DEFAULT_DAYS;
        struct buf err = BUF_INIT;
        int r;

        (void)cli;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--days") == 0 || strcmp(argv[i], "--host") == 0) {
                        if (i + 1 >= argc)
                                return cli_usage_error(&cmd_tls_init, "%s needs a value", argv[i]);
                        if (argv[i][2] == 'd') {
                                if (parse_u64(argv[i + 1], &days) < 0 || days < 1 || days > 36500)
                                        return cli_usage_error(&cmd_tls_init,
                                                               "--days: a number of days from 1 to 36500, got '%s'",
                                                               argv[i + 1]);
                        } else {
                                if (!host_is_valid(argv[i + 1]))
                                        return cli_usage_error(&cmd_tls_init,
                                                               "--host: '%s' is not a host name", argv[i + 1]);
                                if (nhosts == TLS_INIT_HOSTS_MAX)
                                        return cli_usage_error(&cmd_tls_init, "at most %d --host",
                                                               TLS_INIT_HOSTS_MAX);
                                hosts[nhosts++] = argv[i + 1];
                        }
                        i++;
                } else if (argv[i][0] == '-') {
                        return cli_usage_error(&cmd_tls_init, "unknown option '%s'", argv[i]);
                } else if (!dir) {
                        dir = argv[i];
                } else {
                        return cli_usage_error(&cmd_tls_init, "one directory, got '%s' too", argv[i]);
                }
        }
        if (!dir)
                return cli_usage_error(&cmd_tls_init, "which directory?");
        if (nhosts == 0) {
                nhosts = tls_default_hosts(defaults);
                if (nhosts == 0) {
                        fprintf(stderr, "deployex tls-init: cannot tell this host's name: give --host NAME\n");
                        return EXIT_FAIL;
                }
                hosts[0] = defaults[0];
                hosts[1] = defaults[1];
        }
        r = tls_init(dir, (unsigned)days, hosts, nhosts, &err);
        if (r < 0) {
                fprintf(stderr, "deployex %s\n", err.data);
                buf_release(&err);
                return EXIT_FAIL;
        }
        printf("%s/ca-key.pem     the CA's private key: keep it off the hosts once certificates are made\n"
               "%s/ca-cert.pem    the CA certificate (tls.ca)\n"
               "%s/node-key.pem   the node's private key (tls.key)\n"
               "%s/node-cert.pem  the node certificate (tls.cert), for",
               dir, dir, dir, dir);
        for (size_t i = 0; i < nhosts; i++)
                printf(" %s", hosts[i]);
        printf(", valid %llu days\n", (unsigned long long)days);
        buf_release(&err);
        return EXIT_OK;
}

const struct cli_command cmd_tls_init = {
        .name = "tls-init",
        .usage = "tls-init DIR [--days N] [--host NAME]...",
        .summary = "create a CA and a node certificate for TLS distribution",
        .help = "Creates in DIR (made 0700 if missing), all files 0600:\n"
                "  ca-key.pem     the CA's private key (ECDSA P-256)\n"
                "  ca-cert.pem    the CA certificate, valid 10 years (or --days if longer)\n"
                "  node-key.pem   the node's private key\n"
                "  node-cert.pem  the node certificate signed by the CA, usable as TLS server\n"
                "                 and client, naming each --host as a DNS subjectAltName\n"
                "                 (default: this host's short and full names), valid --days\n"
                "                 days (default 825)\n"
                "Refuses to overwrite any of them. Point the configuration at them:\n"
                "  \"tls\": {\"cert\": \"DIR/node-cert.pem\", \"key\": \"DIR/node-key.pem\",\n"
                "          \"ca\": \"DIR/ca-cert.pem\"}\n"
                "Every host of a cluster needs a node certificate from the same CA: run tls-init\n"
                "once, then sign more with your own tooling, or give every host name with --host.\n",
        .run = run,
};
