/*
 * web sessions (DESIGN §8, issue 13 item 3): a session ends 30 min after its
 * last request and 12 h after its login however busy it is; a last use
 * stamped by another thread after `now` was read is fresh, never ancient.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "web/http.h"
#include "base/banned.h"

/* 2026-11-26T05:00:00Z */
#define T0 1795669200000ULL
#define MIN (60ULL * 1000)
#define HOUR (60 * MIN)

struct expiry_case {
        const char *what;
        uint64_t created, last, now;
        bool ended;
};

static const struct expiry_case cases[] = {
        { "just logged in", T0, T0, T0, false },
        { "idle exactly 30 min", T0, T0, T0 + 30 * MIN, false },
        { "idle 30 min and 1 ms", T0, T0, T0 + 30 * MIN + 1, true },
        { "used 29 min ago, 11 h after login", T0, T0 + 10 * HOUR + 31 * MIN, T0 + 11 * HOUR, false },
        { "busy, exactly 12 h after login", T0, T0 + 12 * HOUR - 1, T0 + 12 * HOUR, false },
        { "busy, 12 h and 1 ms after login", T0, T0 + 12 * HOUR, T0 + 12 * HOUR + 1, true },
        { "busy, a day after login", T0, T0 + 24 * HOUR, T0 + 24 * HOUR, true },
        { "last use stamped after now was read", T0, T0 + 5000, T0 + 4000, false },
        { "login stamped after now was read", T0 + 5000, T0 + 5000, T0 + 4000, false },
};

static void test_session_expiry(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct expiry_case *c = &cases[i];
                if (session_expired(c->created, c->last, c->now) != c->ended)
                        fail_msg("%s: expected %s", c->what, c->ended ? "ended" : "alive");
        }
}

/* docs/web.md promises these; the cookie's Max-Age is the absolute one. */
static void test_documented_lifetimes(void **state)
{
        (void)state;
        assert_true(WEB_IDLE_MS == 30 * MIN);
        assert_true(WEB_ABSOLUTE_MS == 12 * HOUR);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_session_expiry),
                cmocka_unit_test(test_documented_lifetimes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
