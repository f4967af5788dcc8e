"""``firstcall import-eml`` on 2,000 generated messages, on SQLite: messages per second."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from bench.common import firstcall, fresh_environment
from bench.corpus import write

MESSAGES = 2000
TARGET_PER_SECOND = 500


def main() -> float:
    env = fresh_environment()
    corpus = Path(tempfile.mkdtemp(prefix="firstcall-corpus-"))
    write(corpus, MESSAGES)
    firstcall(env, "migrate", "--noinput", "-v", "0")
    firstcall(env, "demo")
    firstcall(env, "shell", "-c", "from bench.corpus import seed_known_contacts; seed_known_contacts()")
    output = firstcall(env, "import-eml", str(corpus))
    match = re.search(r"\(([\d.]+) messages/second\)", output)
    if match is None:
        raise RuntimeError(f"import-eml printed no rate:\n{output}")
    rate = float(match.group(1))
    print(f"import-eml, {MESSAGES} messages on SQLite:")
    for line in output.strip().splitlines():
        print(f"  {line.strip()}")
    verdict = "meets" if rate >= TARGET_PER_SECOND else "MISSES"
    print(f"  => {rate:.0f} messages/second ({verdict} the target of ≥ {TARGET_PER_SECOND}/s)")
    return rate


if __name__ == "__main__":
    main()
