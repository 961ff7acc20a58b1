// search: git branch checkout commit
// search: read file write file
const R = "{repo}";
await tools.git__git_create_branch({repo_path: R, branch_name: "fix/receive"});
await tools.git__git_checkout({repo_path: R, branch_name: "fix/receive"});
const readme = (await tools.files__read_text_file({path: `${R}/README.md`})).content;
let n = 0;
const fixed = readme.replace(/recieve/gi, w => { n++; return w === w.toUpperCase() ? "RECEIVE" : w[0] === "R" ? "Receive" : "receive"; });
await tools.files__write_file({path: `${R}/README.md`, content: fixed});
await tools.git__git_add({repo_path: R, files: ["README.md"]});
const commit = await tools.git__git_commit({repo_path: R, message: "Fix spelling of receive"});
return {fixed: n, commit};
