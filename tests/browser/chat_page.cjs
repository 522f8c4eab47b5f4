// Drives fledge's chat page in headless Chromium with playwright-core:
// load the page, send a message, watch the answer stream in, stop a long
// answer, start a new chat. Prints one JSON line of what it saw.
//
// Usage: node chat_page.cjs URL SCREENSHOT.png
// Environment: PLAYWRIGHT_CORE (path of the playwright-core package),
// CHROMIUM (the browser, default /usr/bin/chromium), MESSAGE (what to send),
// STOP_TEST=0 to skip the stop-button check.
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const [url, screenshot] = process.argv.slice(2);
const message = process.env.MESSAGE || "Tell me a story about a cat.";

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const seen = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("requestfailed", (r) => { if (!r.url().includes("/v1/chat/completions")) errors.push("failed: " + r.url()); });
    await page.goto(url);
    await page.waitForFunction(() => !document.getElementById("model").textContent.includes("connecting"));
    seen.model = await page.textContent("[data-testid=model]");
    if (process.env.MAX_TOKENS) await page.fill("#max-tokens", process.env.MAX_TOKENS);
    if (process.env.SEED) await page.fill("#seed", process.env.SEED);

    // Count how many times the answer's text changes while it streams.
    await page.evaluate(() => {
      window.__updates = 0;
      new MutationObserver(() => {
        const m = [...document.querySelectorAll("[data-testid=assistant-message]")].pop();
        if (m && m.textContent) window.__updates++;
      }).observe(document.getElementById("log"), { subtree: true, childList: true, characterData: true });
    });
    await page.fill("[data-testid=input]", message);
    await page.click("[data-testid=send]");
    const answer = page.locator("[data-testid=assistant-message]").last();
    await answer.waitFor();
    await page.waitForFunction(() => {
      const m = [...document.querySelectorAll("[data-testid=assistant-message]")].pop();
      return m && m.dataset.done === "true";
    }, null, { timeout: 60000 });
    seen.user = await page.locator("[data-testid=user-message]").last().textContent();
    seen.answer = await answer.textContent();
    seen.updates = await page.evaluate(() => window.__updates);
    seen.status = await page.locator(".status").last().textContent();
    seen.sources = await page.locator("[data-testid=sources] summary").allTextContents();
    await page.screenshot({ path: screenshot });

    if (process.env.STOP_TEST !== "0") {
      // A long answer, stopped once it has started. The model is random, so
      // an answer may end by itself before the click lands (a fast CPU writes
      // 150 tokens in 0.2 s): then start a new chat and ask
      // again with other words, up to 5 times.
      await page.fill("#max-tokens", process.env.STOP_MAX_TOKENS || "400");
      for (let attempt = 0; attempt < 5; attempt++) {
        await page.fill("[data-testid=input]", "Tell me a very long story." + " Please.".repeat(attempt));
        await page.click("[data-testid=send]");
        await page.waitForFunction(() => {
          const m = [...document.querySelectorAll("[data-testid=assistant-message]")].pop();
          return m && m.textContent.length > 0 || m.dataset.done === "true";
        }, null, { timeout: 30000 });
        // Checked and clicked in one step in the page: the answer may end in between otherwise.
        await page.evaluate(() => {
          const stop = document.querySelector("[data-testid=stop]");
          if (!stop.disabled) stop.click();
        });
        await page.waitForFunction(() => {
          const s = [...document.querySelectorAll(".status")].pop();
          return s && s.textContent.length > 0;
        });
        seen.stopped = await page.locator(".status").last().textContent();
        seen.stoppedAnswer = await page.locator("[data-testid=assistant-message]").last().textContent();
        seen.stopAttempts = attempt + 1;
        if (seen.stopped === "stopped") break;
        await page.click("[data-testid=new-chat]");
      }
      seen.sendEnabledAfterStop = await page.isEnabled("[data-testid=send]");
    }

    await page.click("[data-testid=new-chat]");
    seen.turnsAfterNewChat = await page.locator(".turn").count();
    seen.errors = errors;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})().catch((e) => { console.error(e); process.exit(1); });
