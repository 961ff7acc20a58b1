// search: current time timezone
const t = await tools.time__get_current_time({timezone: "Asia/Tokyo"});
return `It is ${t.datetime.slice(11, 16)} in Tokyo right now (${t.day_of_week}, ${t.datetime}).`;
