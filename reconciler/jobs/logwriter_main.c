/*
 * deployex-log: the log writer of an instance (both streams), as a program of
 * its own.  The daemon runs one per instance for as long as the instance lives,
 * so its memory counts once per instance: it is linked statically with musl
 * (Makefile) and allocates nothing (logwriter.h, "Memory"), about 28 kB
 * each (docs/performance.md).  Same behaviour as `deployex __log`.
 */
#include "reconciler/jobs/logwriter.h"
#include "base/banned.h"

int main(int argc, char **argv)
{
        return logwriter_main(argc, argv);
}
