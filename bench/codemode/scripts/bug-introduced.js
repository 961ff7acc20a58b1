// search: git log show commit
const R = "{repo}";
const unq = s => { s = s.trim(); const q = s[0]; if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) return s;
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, e) => e.length > 1 ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({n: "\n", t: "\t", r: "\r"})[e] ?? e); };
const field = (b, k) => unq((b.match(new RegExp(`^${k}: (.*)$`, "m")) || ["", ""])[1]);
const name = a => a.replace(/^<git\.Actor\s+"/, "").split(/\s<|"/)[0].trim();
const log = await tools.git__git_log({repo_path: R, max_count: 500});
const commits = log.split(/^Commit: /m).slice(1).map(b => ({hash: unq(b.split("\n")[0]), author: name(field(b, "Author")), subject: field(b, "Message").split("\n")[0]}));
// newest first: the first commit whose diff adds `timeout = 0` to config.py
for (const c of commits) {
  const show = await tools.git__git_show({repo_path: R, revision: c.hash});
  const parts = show.split(/^--- /m).filter(p => /config\.py/.test(p.split("\n")[0] + p.split("\n")[1]));
  if (parts.some(p => /^\+\s*timeout\s*=\s*0\s*(#.*)?$/m.test(p))) {
    return `Commit ${c.hash.slice(0, 7)} by ${c.author} ("${c.subject}") set timeout = 0 in config.py.`;
  }
}
return "No commit found that sets timeout = 0 in config.py.";
