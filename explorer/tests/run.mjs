// The explorer in a real headless Chromium against a running `prova dev` (started by tests/e2e/explorer.rs, which
// passes its facts in the environment). Searches every kind of key, checks the model, leaderboard and other
// pages, then stops the API process (SIGSTOP) and verifies the demo folder, receipt and a proven file in the
// browser (and rejects tampered ones), writing screenshots of the main pages to $EXPLORER_SCREENSHOTS.
//
//   EXPLORER_URL=http://127.0.0.1:8080/explorer/ PROVA_DEV_PID=… PROVA_DEV_DATA=.prova/dev RPC_URL=… \
//   FILE_PROOF=… node explorer/tests/run.mjs
//
// Waits are on DOM conditions only. Exits non-zero when a check fails; the last line is "N passed, M failed".
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
};
const EXPLORER = env('EXPLORER_URL').replace(/\/?$/, '/');
const ORIGIN = new URL(EXPLORER).origin;
const DATA = env('PROVA_DEV_DATA');
const DEV_PID = Number(env('PROVA_DEV_PID'));
const RPC = env('RPC_URL');
const FILE_PROOF = env('FILE_PROOF');
const SHOTS = process.env.EXPLORER_SCREENSHOTS ?? 'target/explorer-screenshots';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 20_000;

mkdirSync(SHOTS, { recursive: true });
const json = async (path, init) => {
  const response = await fetch(ORIGIN + path, init);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
};

// The demo's facts, read before anything is stopped.
const receipt = JSON.parse(readFileSync(join(DATA, 'demo-receipt.json'), 'utf8'));
const versions = (await json('/v1/model-versions?limit=200')).items;
const base = versions.find((v) => !v.parent);
const finetune = versions.find((v) => v.parent === base.version_hash);
const manifest = await json(`/v1/model-versions/${base.version_hash}/manifest`);
const weights = manifest.files.find((f) => f.path === 'model.safetensors');
const mean = (await json('/v1/agents?sort=reputation&algorithm=mean&limit=200')).items;
const trust = (await json('/v1/agents?sort=reputation&algorithm=trust&limit=200')).items;
const ring = new Set(mean.filter((i) => i.agent_uri.includes('/ring/')).map((i) => i.agent.agent_id));
const good = trust.find((i) => i.agent_uri.endsWith('/good.json')).agent.agent_id;
const bad = trust.find((i) => i.agent_uri.endsWith('/bad.json')).agent.agent_id;
const goodAgent = await json(`/v1/agents/${receipt.chain_id}/${good}`);
const client = (await json(`/v1/agents/${receipt.chain_id}/${good}/feedback?limit=1`)).items[0].client;

let passed = 0;
let failed = 0;
const check = async (name, body) => {
  const started = Date.now();
  try {
    await body();
    passed++;
    console.log(`ok    ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed++;
    console.log(`FAIL  ${name}: ${error instanceof Error ? error.message.split('\n').slice(0, 6).join('\n      ') : error}`);
  }
};
const expect = (ok, message) => {
  if (!ok) throw new Error(message);
};

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();
const problems = [];
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && problems.push(`console: ${m.text()}`));
/** Waits until no part of the page is still loading. */
const settled = (p) =>
  p.waitForFunction(() => ![...document.querySelectorAll('main p[role="status"]')].some((el) => el.textContent.startsWith('Loading')));
const shot = async (name) => {
  await settled(page);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
};
const text = (selector) => page.locator(selector).first().innerText();

/** Types `key` in the home page's search box and waits for the page it leads to. */
const searchFor = async (key, path, what) => {
  await page.goto(EXPLORER);
  await page.locator('#q').fill(key);
  await page.locator('#q').press('Enter');
  await page.waitForURL((url) => url.pathname.toLowerCase().startsWith(`/explorer${path}`.toLowerCase()));
  await page.locator('main h1').waitFor();
  const h1 = await text('main h1');
  expect(h1.includes(what), `searching ${key} led to "${h1}", expected ${what}`);
};

await check('home shows registrations, batches, feedback and indexer status', async () => {
  await page.goto(EXPLORER);
  await page.getByRole('heading', { name: 'Latest model registrations' }).waitFor();
  await page.locator(`a[href="/explorer/model/${base.version_hash}"]`).first().waitFor();
  await page.locator(`a[href="/explorer/batch/${receipt.root}"]`).first().waitFor();
  await page.locator('section', { hasText: 'Latest feedback' }).locator('li').first().waitFor();
  await page.locator('section', { hasText: 'Indexer status' }).locator('td').first().waitFor();
  expect((await text('[data-testid="rpc-31337"]')) === RPC, 'the header names the RPC endpoint');
  await shot('home');
});

for (const [kind, key, path, what] of [
  ['version hash', base.version_hash, `/model/${base.version_hash}`, 'Model version'],
  ['file SHA-256', weights.sha256, `/file/${weights.sha256}`, 'File'],
  ['response hash', receipt.leaf.response_hash, `/output/${receipt.leaf.response_hash}`, 'Attested output'],
  ['request hash', receipt.leaf.request_hash, `/output/${receipt.leaf.request_hash}`, 'Attested output'],
  ['batch root', receipt.root, `/batch/${receipt.root}`, 'Output batch'],
  ['transaction hash', receipt.tx_hash, `/tx/${receipt.tx_hash}`, 'Transaction'],
  ['publisher address', base.publisher, `/publisher/${base.publisher}`, 'Publisher'],
  ['attestor address', base.attestor, '/address/', 'Address'],
  ['agent owner address', goodAgent.owner, '/address/', 'Address'],
  ['client address', client, '/address/', 'Address'],
  ['agent id', good, `/agent/${receipt.chain_id}/${good}`, `Agent #${good}`],
]) {
  await check(`search ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} and land on its page`, () => searchFor(key, path, what));
}

await check('the attestor, owner and client pages show their roles, read from the chain', async () => {
  await page.goto(`${EXPLORER}address/${base.attestor}`);
  await page.getByText('An attestor key of').waitFor();
  await page.goto(`${EXPLORER}address/${goodAgent.owner}`);
  await page.locator(`a[href="/explorer/agent/${receipt.chain_id}/${good}"]`).first().waitFor();
  await page.goto(`${EXPLORER}address/${client}`);
  await page.locator('section', { hasText: 'Feedback given' }).getByText('rated').first().waitFor();
});

await check('a transaction page decodes the anchoring and links the batch', async () => {
  await page.goto(`${EXPLORER}tx/${receipt.tx_hash}`);
  await page.locator('[data-testid="tx-logs"]').getByText('OutputsAttested').waitFor();
  await page.locator(`[data-testid="tx-logs"] a[href="/explorer/batch/${receipt.root}"]`).waitFor();
});

await check('a model version page shows its claimants and its lineage graph', async () => {
  await page.goto(`${EXPLORER}model/${finetune.version_hash}`);
  const claims = page.locator('[data-testid="claims"] > li');
  await claims.first().waitFor();
  expect((await claims.count()) === 1, 'one claim');
  expect((await claims.first().innerText()).includes('Demo Lab'), 'the claimant is the Demo Lab');
  expect((await page.locator('[data-testid="model-names"]').innerText()).includes('demo-lab/tiny-llm-chat'), 'the model name beside the hash');
  await page.locator(`[data-testid="lineage"] svg a[href="/explorer/model/${base.version_hash}"]`).waitFor();
  expect((await page.locator('[data-testid="lineage"] .node').count()) === 2, 'the fine-tune and its base');
  await page.getByRole('button', { name: 'Check these claims on chain' }).click();
  await page.locator('[data-testid="model-verdict"]').getByText('VERIFIED: this hash is a registered version; 1 publisher claims it').waitFor();
  expect((await page.locator('[data-testid="model-verdict"]').innerText()).includes('model       demo-lab/tiny-llm-chat (id 0x'), 'the name, checked against the model id on chain');
  await shot('model-version');
  await page.goto(`${EXPLORER}model/${base.version_hash}`);
  await page.locator(`[data-testid="lineage"] svg a[href="/explorer/model/${finetune.version_hash}"]`).waitFor();
});

await check('"prove this file" builds a proof the registry accepts', async () => {
  await page.goto(`${EXPLORER}model/${base.version_hash}`);
  await page.getByRole('button', { name: 'Prove config.json' }).click();
  await page.locator('[data-testid="file-proof"]').getByRole('button', { name: 'Check it on chain' }).click();
  await page.locator('[data-testid="file-proof-verdict"]').getByText('VERIFIED: config.json is a file of version').waitFor();
});

await check('the leaderboard puts the ring first under mean and last under trust', async () => {
  await page.goto(`${EXPLORER}leaderboard`);
  const rows = async (board) => {
    await page.locator(`[data-testid="${board}"] tbody tr`).first().waitFor();
    return page.locator(`[data-testid="${board}"] tbody tr`).evaluateAll((trs) => trs.map((tr) => tr.dataset.agent));
  };
  const byMean = await rows('board-mean');
  const byTrust = await rows('board-trust');
  expect(ring.size >= 2, `the demo has a ring (${ring.size})`);
  expect(ring.has(byMean[0]), `mean: first is ${byMean[0]}, not a ring agent`);
  expect(byMean.indexOf(bad) < byMean.indexOf(good), 'mean: the ring lifts the bad agent above the good one');
  expect(ring.has(byTrust[byTrust.length - 1]), `trust: last is ${byTrust.at(-1)}, not a ring agent`);
  expect(byTrust[0] === good, `trust: first is ${byTrust[0]}, not the good agent ${good}`);
  const firstRing = byTrust.findIndex((id) => ring.has(id));
  expect(byTrust.slice(firstRing).every((id) => ring.has(id)), 'trust: every ring agent ranks below every other');
  expect((await page.locator('[data-testid="seeds"] li').count()) > 0, 'the trust seeds are shown');
  await shot('leaderboard');
});

await check('the agent, publisher, batch and output pages render', async () => {
  await page.goto(`${EXPLORER}agent/${receipt.chain_id}/${bad}`);
  for (const algorithm of ['mean', 'bayesian', 'decay', 'trust']) {
    await page.locator('[data-testid="scores"] thead th', { hasText: algorithm }).waitFor();
  }
  await page.locator('[data-testid="feedback"] .badge.ok').first().waitFor();
  await page.locator('figure.chart svg').waitFor();
  await shot('agent');
  await page.goto(`${EXPLORER}publisher/${base.publisher}`);
  await page.locator('svg.timeline rect').first().waitFor();
  await page.locator(`a[href="/explorer/batch/${receipt.root}"]`).waitFor();
  await shot('publisher');
  await page.goto(`${EXPLORER}batch/${receipt.root}`);
  await page.getByRole('heading', { name: 'Find and verify an output of this batch' }).waitFor();
  await page.locator('textarea[name="request"]').fill(readFileSync(join(DATA, 'demo-request.txt'), 'utf8'));
  await page.locator('textarea[name="response"]').fill(readFileSync(join(DATA, 'demo-response.txt'), 'utf8'));
  await page.getByRole('button', { name: 'Find and verify' }).click();
  await page.locator('[data-testid="find-verdict"]').getByText('VERIFIED: model version').waitFor();
  await shot('batch');
  await page.goto(`${EXPLORER}output/${receipt.leaf.response_hash}`);
  await page.getByRole('button', { name: 'Verify the receipt in this browser' }).click();
  await page.locator('[data-testid="receipt-verdict"]').getByText('VERIFIED: model version').waitFor();
  await shot('output');
});

await check('every page fits a phone screen', async () => {
  const phone = await browser.newPage({ viewport: { width: 375, height: 740 }, isMobile: true });
  for (const [name, path] of [
    ['home', ''], ['model-version', `model/${finetune.version_hash}`], ['verify', 'verify'], ['leaderboard', 'leaderboard'],
    ['agent', `agent/${receipt.chain_id}/${good}`], ['publisher', `publisher/${base.publisher}`], ['batch', `batch/${receipt.root}`],
    ['output', `output/${receipt.leaf.response_hash}`], ['address', `address/${client}`],
  ]) {
    await phone.goto(EXPLORER + path);
    await phone.locator('main h1').waitFor();
    await phone.locator('main section, main form').first().waitFor();
    await settled(phone);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - 375);
    expect(overflow <= 0, `${name} is ${overflow}px wider than the phone`);
    await phone.screenshot({ path: join(SHOTS, `phone-${name}.png`), fullPage: true });
  }
  await phone.close();
});

await check('form controls are labelled and each page has one h1', async () => {
  for (const path of ['', 'verify', `model/${base.version_hash}`, `batch/${receipt.root}`]) {
    await page.goto(EXPLORER + path);
    await page.locator('main h1').waitFor();
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => !el.closest('label') && !el.getAttribute('aria-label') && !(el.id && document.querySelector(`label[for="${el.id}"]`)))
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unlabelled.length === 0, `unlabelled on /${path}: ${unlabelled.join(', ')}`);
    expect((await page.locator('h1').count()) === 1, `one h1 on /${path}`);
  }
});

// --- In-browser verification, with the API process stopped --------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), 'prova-explorer-'));
const tampered = join(work, 'tampered-model');
mkdirSync(tampered);
for (const name of readdirSync(join(DATA, 'demo-model'))) copyFileSync(join(DATA, 'demo-model', name), join(tampered, name));
const weightsBytes = readFileSync(join(tampered, 'model.safetensors'));
weightsBytes[1000] ^= 0x01;
writeFileSync(join(tampered, 'model.safetensors'), weightsBytes);
const manifestFile = join(work, 'base-manifest.json');
writeFileSync(manifestFile, JSON.stringify(manifest));
const badReceipt = join(work, 'tampered-receipt.json');
writeFileSync(badReceipt, JSON.stringify({ ...receipt, leaf: { ...receipt.leaf, timestamp: receipt.leaf.timestamp + 1 } }));
const badResponse = join(work, 'tampered-response.txt');
writeFileSync(badResponse, `${readFileSync(join(DATA, 'demo-response.txt'), 'utf8')}!`);

await page.goto(`${EXPLORER}verify`);
await page.locator('[data-testid="folder-input"]').waitFor();
await page.waitForFunction(() => performance.getEntriesByType('resource').some((e) => e.name.includes('hash.worker')));
const apiRequests = [];
page.on('request', (request) => {
  if (request.url().startsWith(ORIGIN)) apiRequests.push(request.url());
});
process.kill(DEV_PID, 'SIGSTOP');
console.log(`      stopped the prova dev process ${DEV_PID} (API and indexers); anvil answers on its own`);
try {
  const verdict = async (testid, expected) => {
    const box = page.locator(`[data-testid="${testid}"]`);
    await box.getByText(expected).first().waitFor();
    const all = await box.innerText();
    expect(all.includes(`Checked in this browser against ${RPC}`), `${testid} names the RPC endpoint it used`);
    return all;
  };
  const form = (id) => page.locator(`section[aria-labelledby="${id}"] form`);

  await check('with the API stopped, the demo folder verifies in the browser', async () => {
    await page.locator('[data-testid="folder-input"]').setInputFiles(join(DATA, 'demo-model'));
    await page.locator('[data-testid="folder-summary"]').getByText('3 files').waitFor();
    await page.locator('[data-testid="verify-folder"]').click();
    await verdict('folder-verdict', 'VERIFIED: this folder is a registered version; 1 publisher claims it');
    expect((await text('[data-testid="folder-verdict"]')).includes(`version hash  ${base.version_hash}`), 'the folder hashes to the base version');
  });

  await check('with the API stopped, a one-byte-tampered file is rejected with the reason', async () => {
    await page.locator('[data-testid="folder-input"]').setInputFiles(tampered);
    await page.locator('[data-testid="folder-summary"]').getByText('tampered-model: 3 files').waitFor();
    await page.locator('[data-testid="compare-manifest"]').setInputFiles(manifestFile);
    await page.locator('[data-testid="verify-folder"]').click();
    const all = await verdict('folder-verdict', 'NOT VERIFIED: version');
    expect(/NOT VERIFIED: version 0x[0-9a-f]{64} is not registered in registry/.test(all), 'not registered');
    expect(/changed\s+model\.safetensors/.test(all), `the changed file is named:\n${all}`);
    expect(all.includes('files identical  2'), 'the two other files are identical');
  });

  await check('with the API stopped, the demo receipt verifies in the browser', async () => {
    await page.locator('[data-testid="receipt-file"]').setInputFiles(join(DATA, 'demo-receipt.json'));
    await page.locator('[data-testid="request-file"]').setInputFiles(join(DATA, 'demo-request.txt'));
    await page.locator('[data-testid="response-file"]').setInputFiles(join(DATA, 'demo-response.txt'));
    await page.locator('[data-testid="verify-receipt"]').click();
    await verdict('receipt-verdict', `VERIFIED: model version ${receipt.leaf.version_hash} produced this response to this request no later than`);
  });

  await check('with the API stopped, a tampered receipt is rejected: the proof does not link the leaf', async () => {
    await page.locator('[data-testid="receipt-file"]').setInputFiles(badReceipt);
    await page.locator('[data-testid="verify-receipt"]').click();
    await verdict('receipt-verdict', `NOT VERIFIED: the Merkle proof does not link this leaf to root ${receipt.root}`);
  });

  await check('with the API stopped, a tampered response is rejected: it does not match the receipt', async () => {
    await page.locator('[data-testid="receipt-file"]').setInputFiles(join(DATA, 'demo-receipt.json'));
    await page.locator('[data-testid="response-file"]').setInputFiles(badResponse);
    await page.locator('[data-testid="verify-receipt"]').click();
    await verdict('receipt-verdict', 'NOT VERIFIED: the response does not match the receipt');
  });

  await check('with the API stopped, a proven file verifies (proof from `prova model prove-file`)', async () => {
    await page.locator('[data-testid="proof-file"]').setInputFiles(FILE_PROOF);
    await page.locator('[data-testid="proved-file"]').setInputFiles(join(DATA, 'demo-model', 'config.json'));
    await form('file-proof').locator('[data-testid="verify-proof"]').click();
    await verdict('proof-verdict', `VERIFIED: config.json is a file of version ${base.version_hash}`);
  });

  await check('with the API stopped, a file that is not the proven one is rejected', async () => {
    await page.locator('[data-testid="proved-file"]').setInputFiles(join(DATA, 'demo-model', 'tokenizer.json'));
    await form('file-proof').locator('[data-testid="verify-proof"]').click();
    await verdict('proof-verdict', 'NOT VERIFIED: the file does not match the proof');
  });

  await check('with the API stopped, a manifest verifies', async () => {
    await page.locator('[data-testid="manifest-file"]').setInputFiles(manifestFile);
    await form('manifest').locator('[data-testid="verify-manifest"]').click();
    await verdict('manifest-verdict', 'VERIFIED: this manifest is a registered version; 1 publisher claims it');
    await shot('verify');
  });

  await check('the verdict comes from the RPC endpoint the visitor chooses', async () => {
    const elsewhere = 'http://127.0.0.1:9';
    await page.getByRole('button', { name: 'Change' }).click();
    await page.locator('input[name="rpc-31337"]').fill(elsewhere);
    await page.getByRole('button', { name: 'Use' }).click();
    await page.locator('[data-testid="rpc-31337"]', { hasText: elsewhere }).waitFor();
    await page.locator('[data-testid="receipt-file"]').setInputFiles(join(DATA, 'demo-receipt.json'));
    await page.locator('[data-testid="response-file"]').setInputFiles(join(DATA, 'demo-response.txt'));
    await page.locator('[data-testid="verify-receipt"]').click();
    const box = page.locator('[data-testid="receipt-verdict"]');
    await box.getByText('COULD NOT CHECK: cannot reach the RPC endpoint').waitFor();
    expect((await box.innerText()).includes(`Checked in this browser against ${elsewhere}`), 'names the chosen endpoint');
    await page.getByRole('button', { name: 'Change' }).click();
    await page.locator('input[name="rpc-31337"]').fill('');
    await page.getByRole('button', { name: 'Use' }).click();
    await page.locator('[data-testid="rpc-31337"]', { hasText: RPC }).waitFor();
  });

  await check('no verdict asked the prova API', async () => {
    expect(apiRequests.length === 0, `requests to the API: ${apiRequests.join(', ')}`);
  });
} finally {
  process.kill(DEV_PID, 'SIGCONT');
}

await check('no page error or console error', async () => {
  expect(problems.length === 0, problems.join('\n'));
});

await browser.close();
console.log(`screenshots in ${SHOTS}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
