// search: convert time between timezones
// search: read file write file
const path = "{ws}/meeting.txt";
const text = (await tools.files__read_text_file({path})).content;
const m = /\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?(?![a-z])/i.exec(text) || /\b(\d{1,2}):(\d{2})\b/.exec(text);
let h = +m[1];
if (m[3]) { h %= 12; if (/p/i.test(m[3])) h += 12; }
const time = `${String(h).padStart(2, "0")}:${m[2] || "00"}`;
const zones = ["Europe/Berlin", "Asia/Tokyo"];
const conv = await Promise.all(zones.map(target_timezone => tools.time__convert_time({source_timezone: "America/New_York", time, target_timezone})));
const lines = zones.map((z, i) => `${z}: ${conv[i].target.datetime.slice(11, 16)}`);
const content = text + (text.endsWith("\n") || text === "" ? "" : "\n") + lines.join("\n") + "\n";
await tools.files__write_file({path, content});
return {newYork: time, added: lines};
