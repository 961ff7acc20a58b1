// search: convert time between timezones
// search: read file write file
const csv = (await tools.files__read_text_file({path: "{ws}/deadlines.csv"})).content;
const parse = line => { const out = []; let cur = "", q = false;
  for (let i = 0; i < line.length; i++) { const c = line[i];
    if (q) { if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c; }
    else if (c === '"') q = true; else if (c === ",") { out.push(cur); cur = ""; } else cur += c; }
  out.push(cur); return out.map(s => s.trim()); };
const rows = csv.split(/\r?\n/).filter(l => l.trim()).map(parse);
const header = rows.shift().map(h => h.toLowerCase());
const ti = Math.max(0, header.findIndex(h => /task|name/.test(h)));
const hhmm = s => { const m = /(\d{1,2}):(\d{2})\s*([ap]\.?m\.?)?/i.exec(s); if (!m) return null;
  let h = +m[1]; if (m[3]) { const pm = /p/i.test(m[3]); if (h === 12) h = 0; if (pm) h += 12; }
  return `${String(h).padStart(2, "0")}:${m[2]}`; };
const pad = n => String(n).padStart(2, "0");
const quote = s => /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
const out = await Promise.all(rows.map(async r => {
  const cells = r.filter((_, i) => i !== ti);
  const time = cells.map(hhmm).find(Boolean);
  const rest = cells.join(" ");
  const tz = (/\b([A-Za-z]+\/[A-Za-z_]+(?:\/[A-Za-z_]+)?)\b/.exec(rest) || [])[1];
  let utc;
  if (tz) {
    const c = await tools.time__convert_time({source_timezone: tz, time, target_timezone: "UTC"});
    utc = c.target.datetime.slice(11, 16);
  } else {
    const off = /(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?/.exec(rest.replace(time, ""));
    const sign = off ? (off[1] === "-" ? -1 : 1) : 0;
    const mins = off ? sign * (+off[2] * 60 + +(off[3] || 0)) : 0;
    const [h, m] = time.split(":").map(Number);
    const t = ((h * 60 + m - mins) % 1440 + 1440) % 1440;
    utc = `${pad(Math.floor(t / 60))}:${pad(t % 60)}`;
  }
  return `${quote(r[ti])},${utc}`;
}));
const content = ["task,utc_time", ...out].join("\n") + "\n";
await tools.files__write_file({path: "{ws}/deadlines_utc.csv", content});
return content;
