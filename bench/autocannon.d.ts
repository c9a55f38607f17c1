// The part of autocannon's API the bench uses (the package ships no types).
declare module 'autocannon' {
  export interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  }

  export interface Histogram {
    average: number;
    total: number;
    p50: number;
    p99: number;
  }

  export interface Options {
    url: string;
    connections: number;
    /** Seconds. */
    duration: number;
    /** Seconds without an answer before a request counts as timed out. */
    timeout?: number;
    requests?: Array<
      Request & {
        /** Called before every request; what it returns is sent. */
        setupRequest?: (request: Request) => Request;
        onResponse?: (status: number, body: string) => void;
      }
    >;
  }

  export interface Result {
    /** Seconds the run took. */
    duration: number;
    requests: Histogram;
    /** Milliseconds. */
    latency: Histogram;
    errors: number;
    timeouts: number;
    '4xx': number;
    '5xx': number;
  }

  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
