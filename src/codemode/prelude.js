// Code mode's prelude (src/codemode/engine.rs evaluates it once a run, before the
// script). It is a function of `native`, the host's own functions and the run's facts,
// which stay in this closure: the script sees only `tools`, `callTool`, `searchTools` and
// `console`, each a read-only global. It returns `settle`, which the host calls to settle
// an inner call's promise. The script is compiled once `eval` and the constructors are
// gone, and runs only if it compiled as one function body.
(function (native) {
  "use strict";
  const request = native.request, log = native.log, done = native.done;
  const stringify = JSON.stringify, parse = JSON.parse, isArray = Array.isArray;
  const ErrorCtor = Error, TypeErrorCtor = TypeError, PromiseCtor = Promise;
  const create = Object.create, defineProperty = Object.defineProperty, freeze = Object.freeze;
  const imul = Math.imul, apply = Reflect.apply;
  const sourceOf = Function.prototype.toString, sliceOf = String.prototype.slice;
  const pending = create(null);

  // One inner call: a promise the host settles (`request` throws when the call is refused
  // before it starts, and the promise rejects with that).
  function call(kind, name, args, raw) {
    return new PromiseCtor(function (resolve, reject) {
      const id = request(kind, name, args, raw);
      pending[id] = [resolve, reject];
    });
  }

  function settle(id, ok, json) {
    const p = pending[id];
    if (p === undefined) return;
    delete pending[id];
    const v = parse(json);
    if (ok) {
      p[0](v);
      return;
    }
    const e = new ErrorCtor(v.message);
    if (v.code !== undefined) e.code = v.code;
    if (v.data !== undefined) e.data = v.data;
    if (v.isError === true) {
      e.isError = true;
      e.result = v.result;
    }
    p[1](e);
  }

  function argsJson(what, args) {
    if (args === undefined || args === null) return "{}";
    if (typeof args !== "object" || isArray(args)) {
      throw new TypeErrorCtor(what + ": the arguments must be an object");
    }
    const s = stringify(args);
    if (typeof s !== "string") throw new TypeErrorCtor(what + ": the arguments are not JSON");
    return s;
  }

  function callTool(name, args, options) {
    try {
      if (typeof name !== "string") {
        throw new TypeErrorCtor("callTool: the tool's name must be a string");
      }
      const raw = options !== undefined && options !== null && options.raw === true;
      return call(0, name, argsJson("callTool(" + stringify(name) + ")", args), raw);
    } catch (e) {
      return PromiseCtor.reject(e);
    }
  }

  function searchTools(query, limit) {
    try {
      if (typeof query !== "string") {
        throw new TypeErrorCtor("searchTools: the query must be a string");
      }
      if (limit !== undefined && limit !== null &&
          (typeof limit !== "number" || !(limit >= 1) || limit % 1 !== 0)) {
        throw new TypeErrorCtor("searchTools: the limit must be a whole number from 1");
      }
      return call(1, query, limit === undefined || limit === null ? "null" : stringify(limit), false);
    } catch (e) {
      return PromiseCtor.reject(e);
    }
  }

  function show(v) {
    if (typeof v === "string") return v;
    try {
      const s = stringify(v);
      return typeof s === "string" ? s : String(v);
    } catch (e) {
      return String(v);
    }
  }

  function describe(e) {
    try {
      if (e instanceof ErrorCtor) {
        const name = e.name === "Error" ? "" : String(e.name) + ": ";
        const code = e.code !== undefined ? " (code " + show(e.code) + ")" : "";
        return name + String(e.message) + code;
      }
      return "uncaught " + show(e);
    } catch (inner) {
      return "uncaught error";
    }
  }

  // tools: a null prototype, one read-only function per tool (the host left out the
  // names that could shadow anything: those are reachable through callTool alone).
  const tools = create(null);
  const names = native.tools;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    defineProperty(tools, name, {
      value: function (args, options) { return callTool(name, args, options); },
      enumerable: true,
    });
  }
  freeze(tools);
  const line = function () {
    const parts = [];
    for (let i = 0; i < arguments.length; i++) parts.push(show(arguments[i]));
    log(parts.join(" "));
  };
  const consoleObject = freeze({ log: line, info: line, warn: line, error: line, debug: line });

  // A clock and randomness fixed per run (the journal keeps them for a resumption).
  const RealDate = Date, T = native.time;
  function FixedDate() {
    if (new.target === undefined) return new RealDate(T).toString();
    if (arguments.length === 0) return new RealDate(T);
    return new RealDate(...arguments);
  }
  FixedDate.prototype = RealDate.prototype;
  FixedDate.now = function now() { return T; };
  FixedDate.parse = RealDate.parse;
  FixedDate.UTC = RealDate.UTC;
  let seed = native.seed | 0;
  const random = function random() {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = seed;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  // No code from strings: the constructors and `eval` go before the script is compiled,
  // by the one constructor kept here.
  const g = globalThis;
  const AsyncFunction = (async function () {}).constructor;
  const refused = function () {
    throw new TypeErrorCtor("code mode runs no code from strings (eval, Function)");
  };
  const constructors = [
    Function,
    AsyncFunction,
    (function* () {}).constructor,
    (async function* () {}).constructor,
  ];
  for (let i = 0; i < constructors.length; i++) {
    defineProperty(constructors[i].prototype, "constructor", { value: refused });
  }
  delete g.eval;
  g.Function = refused;

  // The script: the body of an async function. The engine compiles it inside a function
  // of its text (`async function anonymous(\n) {\n` code `\n}`), so it runs only if the
  // function compiled is that one, its source the whole text: code that closes the
  // function early and opens another ends the run here (`true`: the bound `code`), and
  // no global a script uses is there yet for what ran beside it.
  const code = native.code;
  const tail = " anonymous(\n) {\n" + code + "\n}";
  let main, source = "";
  try {
    main = new AsyncFunction(code);
  } catch (e) {
    done(false, describe(e), true);
    return settle;
  }
  try {
    source = typeof main === "function" ? apply(sourceOf, main, []) : "";
  } catch (e) {
    source = "";
  }
  if (typeof source !== "string" || source.length < tail.length ||
      source.length > tail.length + 16 ||
      apply(sliceOf, source, [source.length - tail.length]) !== tail) {
    done(false, "the code is not one function body: text in it closes the async function " +
      "it is compiled into (write statements, with `return` for the result)", true);
    return settle;
  }

  defineProperty(RealDate.prototype, "constructor", { value: FixedDate, writable: true, configurable: true });
  const fixed = function (name, value) {
    defineProperty(g, name, { value: value, writable: false, enumerable: false, configurable: false });
  };
  g.Date = FixedDate;
  Math.random = random;
  delete g.performance;
  fixed("tools", tools);
  fixed("callTool", callTool);
  fixed("searchTools", searchTools);
  fixed("console", consoleObject);

  PromiseCtor.resolve().then(function () { return main(); }).then(function (v) {
    let s;
    try {
      s = stringify(v === undefined ? null : v);
    } catch (e) {
      done(false, "the returned value is not JSON: " + describe(e));
      return;
    }
    done(true, typeof s === "string" ? s : "null");
  }, function (e) {
    done(false, describe(e));
  });
  return settle;
})
