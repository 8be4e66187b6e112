#!/usr/bin/env node
// Starts the crmbridge upstream test server: SAP CAP serving the CDS model in
// db/ and srv/ as an OData v4 service at /api/data/v9.2 (the Dataverse Web
// API path), on 127.0.0.1 only, port $CAP_PORT (default 4004), with a fresh
// in-memory SQLite database. Test-time only; never shipped.
//
//   CAP_PORT=4004 node start.js
//   curl -fsS http://127.0.0.1:4004/api/data/v9.2/ (health check: the service document)
'use strict'
const cds = require('@sap/cds')

const host = '127.0.0.1'
const port = process.env.CAP_PORT || process.env.PORT || '4004'

// cds.server calls app.listen(port): bind it to loopback.
cds.on('bootstrap', app => {
  const listen = app.listen.bind(app)
  app.listen = (p, ...rest) => listen(p, host, ...rest)
})
cds.on('listening', ({ server }) => {
  const a = server.address()
  console.log(`crmbridge upstream CAP server on http://${a.address}:${a.port}/api/data/v9.2/`)
})

require('@sap/cds/bin/serve.js').exec('all', '--in-memory', '--port', port)
