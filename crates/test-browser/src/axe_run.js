// Appended to axe-core's source in an asynchronous WebDriver script: `done` hands
// the serious and critical violations back, one line each with the elements.
axe
  .run(document, { resultTypes: ["violations"] })
  .then(
    (results) =>
      done(
        results.violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
      ),
    (error) => done([`axe-core failed: ${error}`]),
  );
