// One load run with autocannon, in a process of its own (bench/load.ts forks
// it): the same requests, and the same counting of answers, as
// bench/clicks.lua and bench/postbacks.lua do under wrk.
import { readFileSync } from 'node:fs';
import autocannon, { type Request } from 'autocannon';
import type { LoadOptions, LoadOutput } from './load.js';

const options = JSON.parse(process.argv[2] as string) as LoadOptions;
const counts: Record<string, number> = {};
const count = (key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

interface Scenario {
  setupRequest?: (request: Request) => Request;
  onResponse?: (status: number, body: string) => void;
}

/** Ad clicks with distinct parameters, as bench/clicks.lua. */
function clicks([slug]: string[]): Scenario {
  let counter = 0;
  return {
    setupRequest(request) {
      counter++;
      request.path = `/c/${slug}?fbclid=IwAR0x${counter}&utm_campaign=bench&utm_source=fb&sub1=${counter}`;
      return request;
    },
    onResponse: (status) => count(status === 302 ? 'ok' : 'other'),
  };
}

/**
 * Deposits with distinct transaction ids over existing leads, a share of them
 * repeating an earlier postback exactly, as bench/postbacks.lua.
 */
function postbacks([token, dupShare, clickidFile, run]: string[]): Scenario {
  const clickids = readFileSync(clickidFile as string, 'utf8')
    .split('\n')
    .filter(Boolean);
  const share = Number(dupShare);
  const sent: string[] = [];
  let counter = 0;
  return {
    setupRequest(request) {
      if (sent.length > 0 && Math.random() < share) {
        request.path = sent[Math.floor(Math.random() * sent.length)];
      } else {
        counter++;
        const clickid = clickids[(counter * 7919) % clickids.length];
        request.path = `/api/postbacks/${token}/deposit?clickid=${clickid}&amount=${counter % 500}.25&tid=${run}-0-${counter}`;
        if (sent.length < 10_000) sent.push(request.path);
      }
      return request;
    },
    onResponse(status, body) {
      if (status === 200 && body.includes('"recorded"')) count('ok');
      else if (status === 200 && body.includes('"duplicate"')) count('duplicate');
      else count('other');
    },
  };
}

const scenario =
  options.scenario === 'clicks'
    ? clicks(options.args)
    : options.scenario === 'postbacks'
      ? postbacks(options.args)
      : {};

// The generator's own CPU, from here: not node's start-up nor compiling this file.
const cpuBefore = process.cpuUsage();
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.seconds,
  timeout: 5,
  requests: [{ method: 'GET', ...scenario }],
});
const output: LoadOutput = {
  rps: result.requests.total / result.duration,
  requests: result.requests.total,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  // As wrk counts them: connection errors and timeouts (autocannon counts
  // timeouts among its errors), and answers of 400 or more.
  errors: result.errors + result['4xx'] + result['5xx'],
  result: counts,
  cpuUs: (({ user, system }) => user + system)(process.cpuUsage(cpuBefore)),
};
process.send?.(output);
