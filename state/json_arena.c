/* json_arena: yajl_val trees built in an arena (json_arena.h says why). */
#include "state/json_arena.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "base/banned.h"

#define ARENA_ALIGN alignof(max_align_t)
#define ARENA_BLOCK_MIN (64 * 1024)

struct json_arena_block {
        struct json_arena_block *next;
        /* the memory follows, aligned */
};

void json_arena_init(struct json_arena *a, void *mem, size_t size)
{
        a->mem = mem;
        a->used = 0;
        a->size = mem ? size : 0;
        a->more = NULL;
}

void json_arena_release(struct json_arena *a)
{
        while (a->more) {
                struct json_arena_block *b = a->more;

                a->more = b->next;
                free(b);
        }
        a->mem = NULL;
        a->used = a->size = 0;
}

void *json_arena_alloc(struct json_arena *a, size_t size)
{
        size_t at = (a->used + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
        size_t head = (sizeof(struct json_arena_block) + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);

        if (!a->mem || at > a->size || size > a->size - at) {
                size_t want = size + head > ARENA_BLOCK_MIN ? size + head : ARENA_BLOCK_MIN;
                struct json_arena_block *b = xmalloc(want);

                b->next = a->more;
                a->more = b;
                a->mem = (char *)b;
                a->size = want;
                at = head;
        }
        a->used = at + size;
        return a->mem + at;
}

/*
 * yajl's own memory (its handle, lexer, buffers and state stack) from the
 * arena too: a size header before each piece lets realloc copy it; free
 * gives nothing back (json_arena_release does, all at once).
 */
static void *yajl_arena_malloc(void *ctx, size_t size)
{
        size_t *p = json_arena_alloc(ctx, size + ARENA_ALIGN);

        *p = size;
        return (char *)p + ARENA_ALIGN;
}

static void *yajl_arena_realloc(void *ctx, void *old, size_t size)
{
        void *p = yajl_arena_malloc(ctx, size);

        if (old) {
                size_t was = *(size_t *)((char *)old - ARENA_ALIGN);

                memcpy(p, old, was < size ? was : size);
        }
        return p;
}

static void yajl_arena_free(void *ctx, void *p)
{
        (void)ctx;
        (void)p;
}

/* A member (key set) or an element (key NULL) of a container still open. */
struct pending {
        char *key;
        yajl_val value;
};

struct builder {
        struct json_arena *a;
        struct pending *items; /* of every open container, innermost last */
        size_t n, cap;
        struct pending first[64];
        yajl_val open[JSON_MAX_DEPTH + 1]; /* the open containers */
        size_t start[JSON_MAX_DEPTH + 1];  /* where each one's items begin */
        size_t depth;
        yajl_val root;
};

static void push(struct builder *b, char *key, yajl_val value)
{
        if (b->n == b->cap) {
                size_t cap = b->cap * 2;
                struct pending *items = xmalloc(cap * sizeof(*items));

                memcpy(items, b->items, b->n * sizeof(*items));
                if (b->items != b->first)
                        free(b->items);
                b->items = items;
                b->cap = cap;
        }
        b->items[b->n].key = key;
        b->items[b->n].value = value;
        b->n++;
}

static yajl_val node(struct builder *b, yajl_type type)
{
        yajl_val v = json_arena_alloc(b->a, sizeof(*v));

        memset(v, 0, sizeof(*v));
        v->type = type;
        return v;
}

static char *copy(struct builder *b, const void *s, size_t len)
{
        char *p = json_arena_alloc(b->a, len + 1);

        memcpy(p, s, len);
        p[len] = '\0';
        return p;
}

/* The value goes to the member whose key came last, or into the array, or is the root. */
static int add(struct builder *b, yajl_val v)
{
        if (b->depth == 0)
                b->root = v;
        else if (YAJL_IS_OBJECT(b->open[b->depth - 1]))
                b->items[b->n - 1].value = v;
        else
                push(b, NULL, v);
        return 1;
}

static int on_null(void *ctx)
{
        return add(ctx, node(ctx, yajl_t_null));
}

static int on_bool(void *ctx, int value)
{
        return add(ctx, node(ctx, value ? yajl_t_true : yajl_t_false));
}

/*
 * A number as yajl_tree_parse() leaves it: the text in r; i and
 * YAJL_NUMBER_INT_VALID for an integer that fits a long long (else
 * LLONG_MAX, or LLONG_MIN when negative); d and YAJL_NUMBER_DOUBLE_VALID
 * from strtod, which an integer below 2^53 needs not (the conversion is exact).
 */
static int on_number(void *ctx, const char *s, size_t len)
{
        struct builder *b = ctx;
        yajl_val v = node(b, yajl_t_number);
        bool neg = len > 0 && s[0] == '-';
        unsigned long long mag = 0;
        bool digits = true;
        char *end = NULL;

        v->u.number.r = copy(b, s, len);
        for (size_t i = neg; i < len && digits; i++) {
                unsigned d = (unsigned char)s[i] - '0';

                if (d > 9 || mag > ((unsigned long long)LLONG_MAX - d) / 10)
                        digits = false; /* a fraction, an exponent, or too large */
                else
                        mag = mag * 10 + d;
        }
        if (digits && len > (size_t)neg) {
                v->u.number.i = neg ? -(long long)mag : (long long)mag;
                v->u.number.flags |= YAJL_NUMBER_INT_VALID;
        } else {
                v->u.number.i = neg ? LLONG_MIN : LLONG_MAX;
        }
        if (digits && len > (size_t)neg && mag < (1ULL << 53)) {
                v->u.number.d = neg ? -(double)mag : (double)mag;
                v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
        } else {
                errno = 0;
                v->u.number.d = strtod(v->u.number.r, &end);
                if (errno == 0 && end && *end == '\0')
                        v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
        }
        return add(b, v);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
        struct builder *b = ctx;
        yajl_val v = node(b, yajl_t_string);

        v->u.string = copy(b, s, len);
        return add(b, v);
}

static int on_key(void *ctx, const unsigned char *s, size_t len)
{
        struct builder *b = ctx;

        push(b, copy(b, s, len), NULL);
        return 1;
}

static int open_container(struct builder *b, yajl_type type)
{
        if (b->depth > JSON_MAX_DEPTH)
                return 0; /* json_parse refuses it and says so */
        b->open[b->depth] = node(b, type);
        b->start[b->depth] = b->n;
        b->depth++;
        return 1;
}

static int on_start_map(void *ctx)
{
        return open_container(ctx, yajl_t_object);
}

static int on_start_array(void *ctx)
{
        return open_container(ctx, yajl_t_array);
}

/* The container gets arrays of exactly its size; its items leave the pending list. */
static int close_container(void *ctx)
{
        struct builder *b = ctx;
        yajl_val v = b->open[--b->depth];
        size_t from = b->start[b->depth], count = b->n - from;

        if (YAJL_IS_OBJECT(v) && count) {
                const char **keys = json_arena_alloc(b->a, count * sizeof(*keys));
                yajl_val *values = json_arena_alloc(b->a, count * sizeof(yajl_val));

                for (size_t i = 0; i < count; i++) {
                        keys[i] = b->items[from + i].key;
                        values[i] = b->items[from + i].value;
                }
                v->u.object.keys = keys;
                v->u.object.values = values;
                v->u.object.len = count;
        } else if (count) {
                yajl_val *values = json_arena_alloc(b->a, count * sizeof(yajl_val));

                for (size_t i = 0; i < count; i++)
                        values[i] = b->items[from + i].value;
                v->u.array.values = values;
                v->u.array.len = count;
        }
        b->n = from;
        return add(b, v);
}

static const yajl_callbacks callbacks = {
        .yajl_null = on_null,
        .yajl_boolean = on_bool,
        .yajl_number = on_number,
        .yajl_string = on_string,
        .yajl_start_map = on_start_map,
        .yajl_map_key = on_key,
        .yajl_end_map = close_container,
        .yajl_start_array = on_start_array,
        .yajl_end_array = close_container,
};

int json_parse_arena(const char *text, size_t len, const char *origin, struct json_arena *a,
                     yajl_val *ret, struct buf *err)
{
        yajl_alloc_funcs funcs = { yajl_arena_malloc, yajl_arena_realloc, yajl_arena_free, a };
        struct builder b = { .a = a };
        yajl_handle h;
        bool ok = false;

        b.items = b.first;
        b.cap = sizeof(b.first) / sizeof(b.first[0]);
        if (json_precheck(text, len, origin, NULL) == 0) {
                h = yajl_alloc(&callbacks, &funcs, &b);
                yajl_config(h, yajl_allow_comments, 1);
                ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
                     yajl_complete_parse(h) == yajl_status_ok && b.root;
                yajl_free(h);
        }
        if (b.items != b.first)
                free(b.items);
        if (ok) {
                *ret = b.root;
                return 0;
        }
        /* Bad input is rare: json_parse says what is wrong, in its own words. */
        yajl_val tree = NULL;
        int r = json_parse(text, len, origin, &tree, err);

        if (r == 0) {
                yajl_tree_free(tree);
                r = -EINVAL;
        }
        return r;
}
