// Preloaded (`node --import`) into the conformance suite's process by the authorization-on run of
// scripts/conformance-server.mjs: the suite's server mode has no option to send a header, so this
// puts `Authorization: Bearer $CONFORMANCE_BEARER_TOKEN` on every request to
// $CONFORMANCE_BEARER_ORIGIN. It replaces undici's global dispatcher, which both Node's `fetch`
// (the SDK client transport, the suite's raw requests) and undici's `request` go through, and
// wraps node:http's `request`, which the 2026-07-28 header scenarios use to send raw headers.
import http from 'node:http';

const token = process.env.CONFORMANCE_BEARER_TOKEN;
const origin = process.env.CONFORMANCE_BEARER_ORIGIN;
const undiciPath = process.env.CONFORMANCE_UNDICI;
if (token && origin && undiciPath) {
  const { Agent, setGlobalDispatcher } = await import(undiciPath);
  const withBearer = (dispatch) => (options, handler) => {
    if (String(options.origin).replace(/\/$/, '') !== origin) return dispatch(options, handler);
    const headers = {};
    const given = options.headers;
    if (Array.isArray(given)) {
      for (let i = 0; i < given.length; i += 2) headers[String(given[i])] = given[i + 1];
    } else if (given && typeof given[Symbol.iterator] === 'function') {
      for (const [name, value] of given) headers[name] = value;
    } else if (given) {
      Object.assign(headers, given);
    }
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'authorization') delete headers[name];
    }
    headers.authorization = `Bearer ${token}`;
    return dispatch({ ...options, headers }, handler);
  };
  setGlobalDispatcher(new Agent().compose(withBearer));
}

/** `http.request(options, callback)` to the origin, with the bearer added to its headers. */
if (token && origin) {
  const request = http.request;
  http.request = (options, ...rest) => {
    if (typeof options !== 'object' || options === null || options instanceof URL) {
      return request(options, ...rest);
    }
    const target = `http://${options.hostname ?? options.host}:${options.port}`;
    if (target !== origin) return request(options, ...rest);
    const headers = { ...options.headers, authorization: `Bearer ${token}` };
    return request({ ...options, headers }, ...rest);
  };
}
