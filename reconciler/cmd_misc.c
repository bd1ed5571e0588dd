/* deployex hash-password and deployex version. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../state/banned.h"

#define PASSWORD_MAX 1024
#define BCRYPT_COST 12

static int run_hash_password(const struct cli *cli, int argc, char **argv)
{
        char password[PASSWORD_MAX + 2];
        char salt[CRYPT_GENSALT_OUTPUT_SIZE];
        struct crypt_data data;
        size_t len;
        const char *hash;

        (void)cli;
        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cmd_hash_password, "takes no arguments (the password is read from stdin)");
        if (isatty(STDIN_FILENO))
                fprintf(stderr, "password: ");
        if (!fgets(password, sizeof(password), stdin)) {
                fprintf(stderr, "deployex hash-password: no password on stdin\n");
                return EXIT_FAIL;
        }
        len = strcspn(password, "\r\n");
        if (password[len] == '\0' && len > PASSWORD_MAX) {
                fprintf(stderr, "deployex hash-password: password longer than %d bytes\n", PASSWORD_MAX);
                return EXIT_FAIL;
        }
        password[len] = '\0';
        if (len == 0) {
                fprintf(stderr, "deployex hash-password: empty password\n");
                return EXIT_FAIL;
        }
        if (len > 72)
                fprintf(stderr, "deployex hash-password: warning: bcrypt uses only the first 72 bytes\n");
        if (!crypt_gensalt_rn("$2b$", BCRYPT_COST, NULL, 0, salt, sizeof(salt))) {
                fprintf(stderr, "deployex hash-password: cannot make a salt: %s\n", strerror(errno));
                return EXIT_FAIL;
        }
        memset(&data, 0, sizeof(data));
        hash = crypt_rn(password, salt, &data, sizeof(data));
        explicit_bzero(password, sizeof(password));
        if (!hash || hash[0] == '*') {
                fprintf(stderr, "deployex hash-password: bcrypt failed: %s\n", strerror(errno));
                return EXIT_FAIL;
        }
        printf("%s\n", hash);
        explicit_bzero(&data, sizeof(data));
        return EXIT_OK;
}

static int run_version(const struct cli *cli, int argc, char **argv)
{
        (void)cli;
        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cmd_version, "takes no arguments");
        printf("deployex %s\n", DEPLOYEX_VERSION);
        return EXIT_OK;
}

const struct cli_command cmd_hash_password = {
        .name = "hash-password",
        .usage = "hash-password",
        .summary = "read a password on stdin, print its bcrypt hash",
        .help = "Prints a bcrypt ($2b$, cost 12) hash for http.admin_password_hash, e.g.\n"
                "  printf '%s' \"$PW\" | deployex hash-password\n"
                "Only the first line of stdin is used, without its newline.\n",
        .run = run_hash_password,
};

const struct cli_command cmd_version = {
        .name = "version",
        .usage = "version",
        .summary = "print the version",
        .help = "",
        .run = run_version,
};
