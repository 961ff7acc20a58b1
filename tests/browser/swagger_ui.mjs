// Drives /swagger-ui/ in Debian's headless chromium (playwright-core from
// target/peers/browser) and prints one JSON report on stdout; tests/it/control/swagger_ui.rs
// asserts on it.
//
//   node swagger_ui.mjs BASE_URL ADMIN_KEY OUTPUT_DIR
//
// The report: the page's status and headers, the operations the page lists, every
// console error, page error, failed request and CSP violation, "Try it out" of GET
// /health, and calls made after "Authorize" with the X-API-Key scheme and with the
// Bearer scheme (with the headers the browser sent). A screenshot goes to OUTPUT_DIR.
import { createRequire } from "node:module";
import path from "node:path";

const [base, key, outDir, modules] = process.argv.slice(2);
const require = createRequire(path.join(modules, "noop.js"));
const { chromium } = require("playwright-core");

const report = {
  consoleErrors: [],
  pageErrors: [],
  failedRequests: [],
  cspViolations: [],
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("console", (m) => {
    if (m.type() === "error" || /Content.Security.Policy/i.test(m.text())) {
      report.consoleErrors.push(`${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => report.pageErrors.push(String(e)));
  page.on("requestfailed", (r) =>
    report.failedRequests.push(`${r.url()} ${r.failure()?.errorText}`),
  );
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });

  const resp = await page.goto(`${base}/swagger-ui/`, { waitUntil: "load" });
  report.status = resp.status();
  report.headers = await resp.allHeaders();
  await page.waitForSelector(".opblock");
  report.title = await page.title();
  report.operations = await page.$$eval(".opblock", (els) =>
    els.map((e) => {
      const method = e.querySelector(".opblock-summary-method")?.textContent.trim();
      const p = e.querySelector(".opblock-summary-path")?.getAttribute("data-path");
      return `${method} ${p}`;
    }),
  );

  // Opens an operation, presses "Try it out" and "Execute"; returns the status shown,
  // the body shown and the headers the browser sent.
  const tryIt = async (operationId, urlPart) => {
    // Swagger UI's id is operations-<tag>-<operationId>.
    const block = page.locator(`[id^="operations-"][id$="-${operationId}"]`);
    await block.locator(".opblock-summary").first().click();
    await block.locator("button.try-out__btn").click();
    const sent = page.waitForRequest((r) => r.url().startsWith(`${base}${urlPart}`));
    await block.locator("button.execute").click();
    const request = await sent;
    const status = block.locator(".live-responses-table .response .response-col_status");
    await status.first().waitFor();
    const shown = (await status.first().textContent()).trim();
    const body = block.locator(".live-responses-table .response-col_description pre");
    const text = (await body.count()) ? await body.first().textContent() : "";
    // Collapse it again, so that the next one starts from the same page.
    await block.locator(".opblock-summary").first().click();
    return { status: shown, body: text, sent: await request.allHeaders() };
  };

  // Fills one scheme in the "Authorize" dialog (or logs out of it) and closes it.
  const authorize = async (scheme, value) => {
    await page.locator(".auth-wrapper button.authorize").click();
    const modal = page.locator(".modal-ux");
    await modal.waitFor();
    const section = modal.locator(".auth-container").filter({ hasText: scheme });
    if (value === null) {
      await section.getByRole("button", { name: "Remove authorization" }).click();
    } else {
      await section.locator("input").first().fill(value);
      await section.getByRole("button", { name: "Apply credentials" }).click();
      await section.getByRole("button", { name: "Remove authorization" }).waitFor();
    }
    await modal.locator("button.close-modal").click();
    await modal.waitFor({ state: "detached" });
  };

  try {
    report.health = await tryIt("get_health", "/health");
    await authorize("X-API-Key", key);
    report.apiKey = await tryIt("get_api_v1_namespaces", "/api/v1/namespaces");
    await authorize("X-API-Key", null);
    await authorize("bearer", key);
    report.bearer = await tryIt("get_api_v1_mcp_servers", "/api/v1/mcp/servers");
  } catch (e) {
    // Reported with whatever the page said before it: the errors usually tell why.
    report.failure = String(e);
  }
  report.cspViolations = await page.evaluate(() => window.__csp);
  report.screenshot = path.join(outDir, "swagger-ui.png");
  await page.screenshot({ path: report.screenshot, fullPage: false });
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
