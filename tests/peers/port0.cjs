// Preloaded with `node --require tests/peers/port0.cjs SERVER…` for a published server
// that listens on a port of its own choosing (process.env.PORT || 3001, on every
// interface): its first listen binds 127.0.0.1 port 0 instead, and the port it got is
// printed on stdout's first line, where the test reads it (no two processes race for a
// port). Later listens are left as they are.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
let done = false;
net.Server.prototype.listen = function (...args) {
  if (done) return listen.apply(this, args);
  done = true;
  const callback = args.find((a) => typeof a === "function");
  this.once("listening", () => process.stdout.write(`${this.address().port}\n`));
  return callback ? listen.call(this, 0, "127.0.0.1", callback) : listen.call(this, 0, "127.0.0.1");
};
