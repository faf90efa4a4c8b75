// The API client: typed from the API's own OpenAPI document (src/api/openapi.json, kept up to date by a test in
// api/src/explorer.rs), so a renamed field or route fails `tsc` rather than showing up at run time.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

/** The API's schemas. */
export type Schemas = components['schemas'];
export type ChainPointer = Schemas['ChainPointer'];

/** The API that served this page. */
export const api = createClient<paths>({ baseUrl: location.origin });

/** An API answer that is an error: its HTTP status and our `{ error: { code, message } }`. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The data of an openapi-fetch answer, or throws an [`ApiFailure`]. */
export async function must<T>(
  answer: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result;
  try {
    result = await answer;
  } catch (error) {
    throw new ApiFailure(0, 'unreachable', `the API did not answer (${String(error)})`);
  }
  const { data, error, response } = result;
  if (data !== undefined && response.ok) return data;
  const body = error as { error?: { code?: string; message?: string } } | undefined;
  throw new ApiFailure(response.status, body?.error?.code ?? 'error', body?.error?.message ?? response.statusText);
}

/** The data, or undefined on a 404. */
export async function maybe<T>(
  answer: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T | undefined> {
  try {
    return await must(answer);
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) return undefined;
    throw error;
  }
}
