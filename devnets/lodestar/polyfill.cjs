// Loaded with NODE_OPTIONS=--require <this file> before Lodestar 1.5.1 starts.
// Node 20 has no Promise.withResolvers, which some of Lodestar's pinned dependencies call.
"use strict";
if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers() {
      const out = {};
      out.promise = new this((resolve, reject) => {
        out.resolve = resolve;
        out.reject = reject;
      });
      return out;
    },
  });
}
