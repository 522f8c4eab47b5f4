// Drives the chat page's inspection views in headless Chromium with
// playwright-core: "Show probabilities" (tokens as coloured spans, a token's
// popover of alternatives, regenerating from an alternative), the attention
// heat map, the tokenizer view, and a phone-width window. Prints one JSON
// line of what it saw, and saves a screenshot of each view.
//
// Usage: node inspect_page.cjs URL [SCREENSHOT_DIR]
// Environment: PLAYWRIGHT_CORE (path of the playwright-core package),
// CHROMIUM (default /usr/bin/chromium), FLEDGE_DOCS_SCREENSHOTS (the folder
// for the screenshots, over the argument), MESSAGE (what to send), SEED,
// MAX_TOKENS, TEMPERATURE, TOKEN_INDEX (the token whose alternative is
// picked), ALTERNATIVE (which of its alternatives: 0 is the most likely),
// LAYER and HEAD (the attention map shown), TOKENIZER_TEXT.
"use strict";
const path = require("path");
const fs = require("fs");
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const [url, dirArg] = process.argv.slice(2);
const dir = process.env.FLEDGE_DOCS_SCREENSHOTS || dirArg || ".";
const env = (name, fallback) => process.env[name] || fallback;
const shot = (name) => path.join(dir, name);

const lastAnswerDone = () => {
  const m = [...document.querySelectorAll("[data-testid=assistant-message]")].pop();
  return m && m.dataset.done === "true";
};

(async () => {
  fs.mkdirSync(dir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const seen = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
    page.on("requestfailed", (r) => errors.push("failed: " + r.url()));
    await page.goto(url);
    await page.waitForFunction(() => !document.getElementById("model").textContent.includes("connecting"));
    await page.fill("#max-tokens", env("MAX_TOKENS", "40"));
    if (process.env.SEED) await page.fill("#seed", process.env.SEED);
    if (process.env.TEMPERATURE) {
      await page.$eval("#temperature", (e, v) => { e.value = v; e.dispatchEvent(new Event("input")); }, process.env.TEMPERATURE);
    }

    // 1. The switch, by keyboard.
    await page.focus("[data-testid=show-probs]");
    await page.keyboard.press("Space");
    seen.switchOn = await page.isChecked("[data-testid=show-probs]");
    seen.legendShown = await page.isVisible("[data-testid=legend]");
    await page.fill("[data-testid=input]", env("MESSAGE", "the cat sat on the mat"));
    await page.click("[data-testid=send]");
    await page.waitForFunction(lastAnswerDone, null, { timeout: 60000 });
    const answer = page.locator("[data-testid=assistant-message]").last();
    seen.answer = await answer.textContent();
    const spans = answer.locator("[data-testid=token]");
    seen.tokenCount = await spans.count();
    seen.tokensJoined = (await spans.allTextContents()).join("");
    seen.coloured = await spans.evaluateAll((els) => els.filter((e) => e.style.background.startsWith("rgb")).length);
    seen.distribution = await page.textContent("#distribution");
    await page.mouse.move(0, 0);
    await page.screenshot({ path: shot("page-probabilities.png") });

    // 2. A token's popover: hover it.
    const at = Math.min(parseInt(env("TOKEN_INDEX", "2"), 10), seen.tokenCount - 1);
    await spans.nth(at).hover();
    await page.waitForSelector("[data-testid=popover]:not([hidden])");
    seen.popoverToken = await page.textContent("[data-testid=popover-token]");
    const alts = page.locator("[data-testid=popover] [data-testid=alternative]");
    seen.alternatives = await alts.allTextContents();
    await page.screenshot({ path: shot("page-alternatives.png") });
    // Escape closes it; Tab reaches a token and opens it again.
    await page.keyboard.press("Escape");
    seen.popoverClosedByEscape = await page.isHidden("[data-testid=popover]");
    await spans.nth(0).focus();
    seen.popoverOnFocus = await page.isVisible("[data-testid=popover]");

    // 3. An alternative picked: the answer continues from it. The one wanted,
    // else the first that is not the token itself. (Escape first: the popover
    // the focus opened may lie over the token, as it would for a user.)
    await page.keyboard.press("Escape");
    await spans.nth(at).click();
    await page.waitForSelector("[data-testid=popover]:not([hidden])");
    const prefix = (await spans.allTextContents()).slice(0, at).join("");
    const choices = await alts.evaluateAll((els) => els.map((e) => ({
      text: e.querySelector("code").textContent.replace(/␣/g, " ").replace(/↵/g, "\n").replace(/⇥/g, "\t"),
      self: e.classList.contains("this"), enabled: !e.disabled })));
    let pick = parseInt(env("ALTERNATIVE", "-1"), 10);
    if (!(choices[pick]?.enabled && !choices[pick].self)) pick = choices.findIndex((c) => !c.self && c.enabled);
    seen.picked = choices[pick]?.text;
    seen.keptPrefix = prefix;
    await alts.nth(pick).click();
    await page.waitForFunction(lastAnswerDone, null, { timeout: 60000 });
    seen.regenerated = await answer.textContent();
    seen.regeneratedStatus = await page.locator(".status").last().textContent();
    seen.regeneratedTokensJoined = (await answer.locator("[data-testid=token]").allTextContents()).join("");
    seen.chosenShown = await answer.locator(".tok.chosen").count();
    seen.turns = await page.locator(".turn").count();

    // 4. The attention map of the last exchange, for the layer and head asked.
    await page.click("[data-testid=attention-toggle]");
    await page.waitForSelector("[data-testid=attn-canvas][data-drawn=true]", { timeout: 30000 });
    await page.selectOption("[data-testid=attn-layer]", env("LAYER", "1"));
    await page.waitForSelector("[data-testid=attn-canvas][data-drawn=true]", { timeout: 30000 });
    await page.selectOption("[data-testid=attn-head]", env("HEAD", "1"));
    await page.waitForSelector("[data-testid=attn-canvas][data-drawn=true]", { timeout: 30000 });
    seen.attentionLabel = await page.textContent("[data-testid=attn-readout]");
    seen.heatTokens = parseInt(await page.getAttribute("[data-testid=attn-canvas]", "data-tokens"), 10);
    seen.heatPixels = await page.$eval("[data-testid=attn-canvas]", (c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let inked = 0;
      for (let k = 0; k < d.length; k += 4) if (d[k] < 200 || d[k + 1] < 200 || d[k + 2] < 200) inked++;
      return { width: c.width, height: c.height, inked };
    });
    // Hover a cell below the diagonal, then click its row.
    const box = await page.locator("[data-testid=attn-canvas]").boundingBox();
    const cell = await page.evaluate(() => ({ cell: attn.cell, left: attn.left, top: attn.top }));
    const [ci, cj] = [Math.min(6, seen.heatTokens - 1), 1];
    await page.mouse.move(box.x + cell.left + (cj + 0.5) * cell.cell, box.y + cell.top + (ci + 0.5) * cell.cell);
    seen.cellReadout = await page.textContent("[data-testid=attn-readout]");
    await page.mouse.click(box.x + cell.left + (cj + 0.5) * cell.cell, box.y + cell.top + (ci + 0.5) * cell.cell);
    seen.rowReadout = await page.textContent("[data-testid=attn-readout]");
    await page.locator("[data-testid=attention-panel]").scrollIntoViewIfNeeded();
    await page.screenshot({ path: shot("page-attention.png") });
    await page.click("[data-testid=attention-toggle]");

    // 5. The tokenizer's split of what is typed.
    await page.click("[data-testid=tokens-toggle]");
    await page.fill("[data-testid=input]", env("TOKENIZER_TEXT", "The little dog ran to the big red ball in the park."));
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=token-box]").length > 0, null, { timeout: 30000 });
    await page.waitForTimeout(600);  // the last keystroke's request
    seen.tokenBoxes = await page.locator("[data-testid=token-box]").count();
    seen.tokenCountText = await page.textContent("[data-testid=tok-count]");
    seen.tokenBoxTitle = await page.getAttribute("[data-testid=token-box] >> nth=0", "title");
    await page.screenshot({ path: shot("page-tokenizer.png") });

    // 6. A phone: the attention panel open too, nothing wider than the window.
    await page.click("[data-testid=attention-toggle]");
    await page.waitForSelector("[data-testid=attn-canvas][data-drawn=true]", { timeout: 30000 });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(400);
    seen.phoneOverflow = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth, bodyScrollWidth: document.body.scrollWidth,
      width: window.innerWidth }));
    await page.screenshot({ path: shot("page-phone.png"), fullPage: true });
    seen.errors = errors;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})().catch((e) => { console.error(e); process.exit(1); });
