// search: read file write file
// search: git add commit
const R = "{repo}";
const paths = ["package.json", "src/version.py", "CHANGELOG.md"];
const [pkg, py, log] = (await Promise.all(paths.map(p => tools.files__read_text_file({path: `${R}/${p}`})))).map(r => r.content);
const old = JSON.parse(pkg).version;
const [maj, min, pat] = old.split(".").map(Number);
const next = `${maj}.${min}.${pat + 1}`;
const newPkg = pkg.replace(/("version"\s*:\s*")[^"]*(")/, `$1${next}$2`);
const newPy = py.replace(/^(\s*\w*version\w*\s*(?::\s*\w+\s*)?=\s*['"])[^'"]*(['"])/im, `$1${next}$2`);
if (newPy === py) throw new Error("no version in src/version.py: " + py);
const lines = log.split("\n");
const t = lines.findIndex(l => /^#\s+Changelog/i.test(l));
let at = t + 1;
while (at < lines.length && lines[at].trim() === "") at++;
lines.splice(at, 0, `## ${next}`, "- Maintenance release", "");
if (t >= 0 && at === t + 1) lines.splice(at, 0, "");
await Promise.all([
  tools.files__write_file({path: `${R}/package.json`, content: newPkg}),
  tools.files__write_file({path: `${R}/src/version.py`, content: newPy}),
  tools.files__write_file({path: `${R}/CHANGELOG.md`, content: lines.join("\n")}),
]);
await tools.git__git_add({repo_path: R, files: paths});
const commit = await tools.git__git_commit({repo_path: R, message: `release: ${next}`});
return {from: old, to: next, commit};
