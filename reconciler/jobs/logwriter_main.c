/*
 * deployex-log: the log writer of an instance (both streams), as a program of
 * its own.  The daemon runs one per instance for as long as the instance lives;
 * linked with libc alone it costs a fraction of what a whole deployex would
 * (docs/performance.md).  Same behaviour as `deployex __log`.
 */
#include "reconciler/jobs/logwriter.h"
#include "base/banned.h"

int main(int argc, char **argv)
{
        return logwriter_main(argc, argv);
}
