// SPDX-License-Identifier: Apache-2.0
// The function the functions-framework e2e test serves (faas_runtime_test.sh).
// An HTTP function in the Google Cloud Functions style: exported by name and
// loaded by @google-cloud/functions-framework with --target=hello.
//
//   GET  /?name=X        -> "hello X"              the normal path, exercised while learning
//   POST / {"name":"X"}  -> "hello X"              the same, through the JSON body parser
//   GET  /mkdir          -> mkdir $FNW_FAAS_MKDIR  never exercised while learning
//   GET  /spawn          -> runs /bin/echo         never exercised while learning
//   GET  /read?path=P    -> the first line of P    never exercised while learning
//
// The last three are the negative controls: under the learned policy mkdir
// and spawning fail with EPERM (syscalls), a file never read with EACCES
// (files, Landlock); the handler reports the error code, and the function
// keeps serving.
'use strict';
const childProcess = require('child_process');
const fs = require('fs');

exports.hello = (req, res) => {
  if (req.path === '/mkdir') {
    const dir = process.env.FNW_FAAS_MKDIR;
    if (!dir) {
      res.status(400).send('FNW_FAAS_MKDIR is not set\n');
      return;
    }
    try {
      fs.mkdirSync(dir);
      res.send(`created ${dir}\n`);
    } catch (err) {
      res.status(500).send(`mkdir failed: ${err.code}\n`);
    }
    return;
  }
  if (req.path === '/spawn') {
    try {
      const out = childProcess.execFileSync('/bin/echo', ['spawned'], { timeout: 5000 });
      res.send(out.toString());
    } catch (err) {
      res.status(500).send(`spawn failed: ${err.code}\n`);
    }
    return;
  }
  if (req.path === '/read') {
    try {
      res.send(`${fs.readFileSync(String(req.query.path), 'utf8').split('\n')[0]}\n`);
    } catch (err) {
      res.status(500).send(`read failed: ${err.code}\n`);
    }
    return;
  }
  const name = (req.body && req.body.name) || req.query.name || 'world';
  res.send(`hello ${name}\n`);
};
