// SPDX-License-Identifier: Apache-2.0
// Preloaded with `node --require`: makes a listen() that names no host bind
// 127.0.0.1 instead of every interface. functions-framework has no host
// option (it calls server.listen(port, cb)), and the e2e test must not expose
// a port beyond loopback.
'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    const port = Number(args[0]);
    const rest = args.slice(1).filter((a) => typeof a === 'function');
    return listen.call(this, port, '127.0.0.1', ...rest);
  }
  return listen.apply(this, args);
};
