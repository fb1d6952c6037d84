// SPDX-License-Identifier: Apache-2.0
// The Fn Project function of tests/e2e/learn_roundtrip_test.sh, served by
// @fnproject/fdk (npm) over a unix socket (FN_LISTENER), as `fn init
// --runtime node` writes one.
//   {"name": "X"}  -> {"hello": "X"}             exercised while learning
//   {"read": "P"}  -> {"read": first line of P}  never exercised while learning:
//                     the step outside the learned files ({"error": CODE})
'use strict';
const fdk = require('@fnproject/fdk');
const fs = require('fs');

fdk.handle(function (input) {
  if (input && input.read) {
    try {
      return { read: fs.readFileSync(String(input.read), 'utf8').split('\n')[0] };
    } catch (err) {
      return { error: err.code };
    }
  }
  return { hello: (input && input.name) || 'world' };
});
