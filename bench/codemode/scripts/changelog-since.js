// search: git log commit add
// search: write file
const R = "{repo}";
const unq = s => { s = s.trim(); const q = s[0]; if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) return s;
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, e) => e.length > 1 ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({n: "\n", t: "\t", r: "\r"})[e] ?? e); };
const field = (b, k) => unq((b.match(new RegExp(`^${k}: (.*)$`, "m")) || ["", ""])[1]);
const log = await tools.git__git_log({repo_path: R, max_count: 1000});
const commits = log.split(/^Commit: /m).slice(1).map(b => ({date: field(b, "Date"), subject: field(b, "Message").split("\n")[0].trim()}));
const since = commits.filter(c => c.date.slice(0, 10) >= "2026-06-01");
const feats = since.filter(c => /^feat(\([^)]*\))?!?:/.test(c.subject)).map(c => `- ${c.subject}`);
const fixes = since.filter(c => /^fix(\([^)]*\))?!?:/.test(c.subject)).map(c => `- ${c.subject}`);
const content = ["## Features", ...feats, "", "## Fixes", ...fixes, ""].join("\n");
await tools.files__write_file({path: `${R}/CHANGELOG.md`, content});
await tools.git__git_add({repo_path: R, files: ["CHANGELOG.md"]});
const commit = await tools.git__git_commit({repo_path: R, message: "docs: changelog"});
return {features: feats.length, fixes: fixes.length, commit};
