#!/usr/bin/env bash
# The screening of tool definitions, one command: detection per attack class on
# the cases make_attacks.py writes (target/screening/attacks.jsonl), false alarms on the real tools of bench/toolsearch (collected once by
# bench/toolsearch/run.sh into target/toolsearch/tools.json), LiveMCPBench and MetaTool
# (TOOLSEARCH_EXTERNAL, default ../shared/toolsearch-external); then, beside them, the
# blind corpus of bench/screening/blind/ (written by someone who never saw the rules:
# detection per class, false alarms on its benign tools), the false holds with every real
# set's servers registered side by side on one gateway and each server twice (under
# another name and configuration), the second blind corpus bench/screening/blind2/ when
# it is there (SCREENING_BLIND2), and the cost a definition.
#   bench/screening/run.sh                  # the figures
#   SCREENING_SHOW=1 bench/screening/run.sh # and each false alarm and each miss
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
python3 bench/screening/make_attacks.py target/screening/attacks.jsonl
# The figures, not speed: the dev profile, which the tests have built already.
cargo bench --profile dev --bench screening
