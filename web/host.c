/*
 * host: the host's CPU, memory, load and uptime from /proc, for the
 * dashboard.  CPU % is the busy share of all CPUs since the previous sample
 * (the state watcher samples every few seconds).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "web/http.h"
#include "state/json.h"
#include "base/banned.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t prev_busy, prev_total;

static int read_cpu(uint64_t *busy, uint64_t *total)
{
        unsigned long long v[8] = { 0 };
        FILE *f = fopen("/proc/stat", "re");
        int n;

        if (!f)
                return -1;
        n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
        fclose(f);
        if (n < 4)
                return -1;
        *total = 0;
        for (int i = 0; i < 8; i++)
                *total += v[i];
        *busy = *total - v[3] - v[4]; /* idle and iowait */
        return 0;
}

static uint64_t meminfo(const char *key)
{
        char line[256];
        unsigned long long kb = 0;
        size_t n = strlen(key);
        FILE *f = fopen("/proc/meminfo", "re");

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, n) == 0 && line[n] == ':') {
                        (void)sscanf(line + n + 1, "%llu", &kb);
                        break;
                }
        fclose(f);
        return kb * 1024;
}

void host_json(struct buf *out)
{
        uint64_t busy = 0, total = 0;
        double load[3] = { 0, 0, 0 }, up = 0;
        long long cpu_pct = -1;
        char name[256] = "";
        yajl_gen g;
        FILE *f;

        if (read_cpu(&busy, &total) == 0) {
                pthread_mutex_lock(&lock);
                if (prev_total && total > prev_total)
                        cpu_pct = (long long)((busy - prev_busy) * 100 / (total - prev_total));
                prev_busy = busy;
                prev_total = total;
                pthread_mutex_unlock(&lock);
        }
        if ((f = fopen("/proc/loadavg", "re"))) {
                if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
                        load[0] = load[1] = load[2] = 0;
                fclose(f);
        }
        if ((f = fopen("/proc/uptime", "re"))) {
                if (fscanf(f, "%lf", &up) != 1)
                        up = 0;
                fclose(f);
        }
        (void)gethostname(name, sizeof(name) - 1);
        g = json_gen_new(out);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "hostname", name);
        json_gen_str(g, "cpu_pct");
        if (cpu_pct >= 0)
                yajl_gen_integer(g, cpu_pct);
        else
                yajl_gen_null(g);
        json_gen_kv_int(g, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
        json_gen_kv_int(g, "mem_total_bytes", (long long)meminfo("MemTotal"));
        json_gen_kv_int(g, "mem_available_bytes", (long long)meminfo("MemAvailable"));
        json_gen_str(g, "load");
        yajl_gen_array_open(g);
        for (int i = 0; i < 3; i++)
                yajl_gen_double(g, load[i]);
        yajl_gen_array_close(g);
        json_gen_kv_int(g, "uptime_s", (long long)up);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
}
