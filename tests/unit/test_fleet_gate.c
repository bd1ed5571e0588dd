/* fleet_gate: the turn decision, with an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reconciler/core/fleet_gate.h"

#define STALE 1000
#define SOAK 300

static struct fleet_view view;

static int setup(void **state)
{
        (void)state;
        memset(&view, 0, sizeof(view));
        view.mine = -1;
        return 0;
}

static void slot(int k, enum fleet_slot_state st, const char *host, uint64_t changed, uint64_t ready_at)
{
        struct fleet_slot *s = &view.slots[k];

        s->state = st;
        strcpy(s->host, host); /* NOLINT: test data */
        s->changed_at_ms = changed;
        s->seen_at_ms = changed;
        s->ready_at_ms = ready_at;
        s->fingerprint = 100 + (uint64_t)k;
        if (k + 1 > view.nslots)
                view.nslots = k + 1;
}

/* A later read found slot k's bytes unchanged; it began at `at`. */
static void seen(int k, uint64_t at)
{
        view.slots[k].seen_at_ms = at;
}

static void gate(uint64_t now, bool canaries, struct fleet_gate *g)
{
        fleet_gate_compute(&view, STALE, SOAK, canaries, now, g);
}

static void test_verdict_fails(void **state)
{
        struct fleet_gate g;

        (void)state;
        view.mine = 3;
        view.verdict_failed = true;
        strcpy(view.verdict_reason, "web-1: not ready"); /* NOLINT */
        gate(5, false, &g);
        assert_int_equal(g.decision, FLEET_FAILED);
        assert_string_equal(g.reason, "failed verdict: web-1: not ready");
}

static void test_no_slot_waits(void **state)
{
        struct fleet_gate g;

        (void)state;
        gate(5, false, &g);
        assert_int_equal(g.decision, FLEET_WAIT);
        assert_string_equal(g.reason, "claiming a slot");
}

static void test_slot0_goes(void **state)
{
        struct fleet_gate g;

        (void)state;
        view.mine = 0;
        slot(0, FLEET_SLOT_WAITING, "web-1", 0, 0);
        gate(5, true, &g);
        assert_int_equal(g.decision, FLEET_GO);
}

static void test_waits_for_holder_then_soaks_then_goes(void **state)
{
        struct fleet_gate g;

        (void)state;
        view.mine = 2;
        slot(0, FLEET_SLOT_READY, "web-0", 10, 10);
        slot(1, FLEET_SLOT_DEPLOYING, "web-1", 100, 0);
        slot(2, FLEET_SLOT_WAITING, "web-2", 100, 0);
        gate(500, false, &g);
        assert_int_equal(g.decision, FLEET_WAIT);
        assert_string_equal(g.reason, "slot 2 waits for web-1");
        assert_int_equal(g.wake_at_ms, 0); /* the next read decides, not a timer */
        assert_int_equal(g.takeover, -1);
        slot(1, FLEET_SLOT_READY, "web-1", 600, 600);
        gate(700, false, &g);
        assert_int_equal(g.decision, FLEET_WAIT);
        assert_string_equal(g.reason, "slot 2 soaks after web-1, 200 ms left");
        assert_int_equal(g.wake_at_ms, 900);
        gate(900, false, &g);
        assert_int_equal(g.decision, FLEET_GO);
}

static void test_stale_holder_is_taken_over_and_skipped(void **state)
{
        struct fleet_gate g;

        (void)state;
        view.mine = 2;
        slot(0, FLEET_SLOT_READY, "web-0", 10, 10);
        slot(1, FLEET_SLOT_DEPLOYING, "web-1", 100, 0);
        seen(1, 100 + STALE - 1);
        gate(100 + STALE + 500, false, &g);
        assert_int_equal(g.takeover, -1);
        seen(1, 100 + STALE);
        gate(100 + STALE + 500, false, &g);
        assert_int_equal(g.decision, FLEET_WAIT);
        assert_int_equal(g.takeover, 1);
        assert_int_equal(g.takeover_fingerprint, 101);
        assert_string_equal(g.reason, "slot 2 takes over slot 1 of web-1 (unchanged 1000 ms)");
        /* Once abandoned, the nearest live slot below decides: web-0, ready long ago. */
        slot(1, FLEET_SLOT_ABANDONED, "web-1", 1200, 0);
        gate(1200, false, &g);
        assert_int_equal(g.decision, FLEET_GO);
}

/*
 * A daemon that was stopped or starved (SIGSTOP, a loaded host) wakes with
 * the view it read before: however late it is, what it has not read again
 * is not stale.  Its next read decides.
 */
static void test_late_reader_decides_on_reads(void **state)
{
        struct fleet_gate g;

        (void)state;
        view.mine = 1;
        slot(0, FLEET_SLOT_DEPLOYING, "web-0", 100, 0);
        gate(100 + 15 * STALE, false, &g);
        assert_int_equal(g.decision, FLEET_WAIT);
        assert_int_equal(g.takeover, -1);
        assert_string_equal(g.reason, "slot 1 waits for web-0");
        seen(0, 100 + STALE);
        gate(100 + 15 * STALE, false, &g);
        assert_int_equal(g.takeover, 0);
}

static void test_missing_canary_holds(void **state)
{
        struct fleet_gate g;

        (void)state;
        view.mine = 1;
        slot(1, FLEET_SLOT_WAITING, "web-1", 0, 0);
        gate(99999, true, &g);
        assert_int_equal(g.decision, FLEET_WAIT);
        assert_string_equal(g.reason, "slot 1 waits for a canary host to take slot 0");
        gate(99999, false, &g);
        assert_string_equal(g.reason, "slot 1 waits for a host to take slot 0");
}

static void test_started_turn_resumes(void **state)
{
        struct fleet_gate g;

        (void)state;
        view.mine = 1;
        slot(0, FLEET_SLOT_DEPLOYING, "web-0", 0, 0);
        slot(1, FLEET_SLOT_DEPLOYING, "web-1", 0, 0);
        gate(10, false, &g);
        assert_int_equal(g.decision, FLEET_GO);
}

static void test_failed_predecessor_holds(void **state)
{
        struct fleet_gate g;

        (void)state;
        view.mine = 1;
        slot(0, FLEET_SLOT_FAILED, "web-0", 0, 0);
        gate(99999, false, &g);
        assert_int_equal(g.decision, FLEET_WAIT);
        assert_int_equal(g.takeover, -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_verdict_fails, setup),
                cmocka_unit_test_setup(test_no_slot_waits, setup),
                cmocka_unit_test_setup(test_slot0_goes, setup),
                cmocka_unit_test_setup(test_waits_for_holder_then_soaks_then_goes, setup),
                cmocka_unit_test_setup(test_stale_holder_is_taken_over_and_skipped, setup),
                cmocka_unit_test_setup(test_late_reader_decides_on_reads, setup),
                cmocka_unit_test_setup(test_missing_canary_holds, setup),
                cmocka_unit_test_setup(test_started_turn_resumes, setup),
                cmocka_unit_test_setup(test_failed_predecessor_holds, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
