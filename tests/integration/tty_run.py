"""Run a command on a pseudo-terminal, type lines into it, print what the
terminal showed (stdout and stderr both go to the terminal, as for a user).

    python3 tty_run.py LINE1 [LINE2 ...] -- COMMAND ARGS...

Each LINE is typed when the terminal's output ends in a new prompt (': ').
Exits with the command's status.
"""
import os
import pty
import select
import sys

sep = sys.argv.index('--')
lines, argv = sys.argv[1:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)

shown = b''
typed = 0
answered = 0  # len(shown) when the last line was typed: one line per new prompt
while True:
    ready, _, _ = select.select([fd], [], [], 20)
    if not ready:
        sys.stdout.write('tty_run: no output for 20 s\n')
        os.kill(pid, 9)
        break
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    shown += chunk
    if typed < len(lines) and shown.endswith(b': ') and len(shown) > answered:
        os.write(fd, lines[typed].encode() + b'\n')
        typed += 1
        answered = len(shown)
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode('utf-8', 'replace').replace('\r', ''))
sys.exit(os.waitstatus_to_exitcode(status))
