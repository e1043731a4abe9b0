// The CommonJS entry ("require" in package.json "exports"). lmforge is an ES module: Node >= 20.19 can
// require() it, older releases cannot, and get this message instead of a bare ERR_REQUIRE_ESM.
if (process.features.require_module) {
  module.exports = require('./index.js');
} else {
  throw new Error(
    `lmforge is an ES module and Node ${process.version} cannot require() it: use \`import ... from 'lmforge'\` ` +
      `or \`await import('lmforge')\` from CommonJS, or Node >= 20.19`,
  );
}
