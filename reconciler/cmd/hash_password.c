/* deployex hash-password. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <termios.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "base/banned.h"

#define PASSWORD_MAX 1024
#define BCRYPT_COST 12

/* The terminal's settings while echo is off, for the signal handler to put back. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty_and_exit(int sig)
{
        if (tty_changed)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        signal(sig, SIG_DFL);
        raise(sig);
}

/*
 * One line from stdin into buf (without its newline); with echo off and a
 * prompt on stderr when stdin is a terminal.  0, -ENODATA (end of input) or
 * -E2BIG (longer than PASSWORD_MAX).
 */
static int read_password(const char *prompt, char *buf, size_t size, bool tty)
{
        struct termios quiet;
        size_t len;
        int r = 0;

        /* Echo off before the prompt: what is typed after it must never show. */
        if (tty) {
                if (tcgetattr(STDIN_FILENO, &saved_tty) == 0) {
                        quiet = saved_tty;
                        quiet.c_lflag &= ~(tcflag_t)ECHO;
                        quiet.c_lflag |= ECHONL;
                        tty_changed = 1;
                        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
                }
                fprintf(stderr, "%s", prompt);
                fflush(stderr);
        }
        if (!fgets(buf, (int)size, stdin))
                r = -ENODATA;
        if (tty_changed) {
                tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tty);
                tty_changed = 0;
        }
        if (r < 0)
                return r;
        len = strcspn(buf, "\r\n");
        if (buf[len] == '\0' && len > PASSWORD_MAX)
                return -E2BIG;
        buf[len] = '\0';
        return 0;
}

static int run_hash_password(const struct cli *cli, int argc, char **argv)
{
        char password[PASSWORD_MAX + 2], again[PASSWORD_MAX + 2];
        char salt[CRYPT_GENSALT_OUTPUT_SIZE];
        struct crypt_data data;
        bool tty = isatty(STDIN_FILENO);
        size_t len;
        const char *hash;
        int r;

        (void)cli;
        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cmd_hash_password, "takes no arguments (the password is read from stdin)");
        if (tty) {
                signal(SIGINT, restore_tty_and_exit);
                signal(SIGTERM, restore_tty_and_exit);
                signal(SIGHUP, restore_tty_and_exit);
        }
        r = read_password("password: ", password, sizeof(password), tty);
        if (r == 0 && tty) {
                r = read_password("password again: ", again, sizeof(again), tty);
                if (r == 0 && strcmp(password, again) != 0) {
                        explicit_bzero(password, sizeof(password));
                        explicit_bzero(again, sizeof(again));
                        fprintf(stderr, "deployex hash-password: the passwords differ; nothing printed\n");
                        return EXIT_FAIL;
                }
                explicit_bzero(again, sizeof(again));
        }
        if (r == -ENODATA) {
                fprintf(stderr, "deployex hash-password: no password on stdin\n");
                return EXIT_FAIL;
        }
        if (r == -E2BIG) {
                explicit_bzero(password, sizeof(password));
                fprintf(stderr, "deployex hash-password: password longer than %d bytes\n", PASSWORD_MAX);
                return EXIT_FAIL;
        }
        len = strlen(password);
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

const struct cli_command cmd_hash_password = {
        .name = "hash-password",
        .usage = "hash-password",
        .summary = "read a password (no echo, asked twice on a terminal), print its bcrypt hash",
        .help = "Prints a bcrypt ($2b$, cost 12) hash for http.admin_password_hash.\n"
                "On a terminal the password is asked twice, without echo; from a pipe the\n"
                "first line of stdin is used, without its newline:\n"
                "  printf '%s\\n' \"$PW\" | deployex hash-password\n",
        .run = run_hash_password,
};
