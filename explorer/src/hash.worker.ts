// Hashes files with SHA-256 off the page's thread, reporting progress: WebCrypto for files that fit in memory,
// an incremental SHA-256 (streamed, so any size) for larger ones or where WebCrypto is missing (a page not served
// over https or from localhost).
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';

/** Largest file read whole into memory for WebCrypto. */
const WHOLE_FILE_LIMIT = 256 * 1024 * 1024;

export interface HashRequest {
  files: { path: string; file: File }[];
}

export type HashMessage =
  | { type: 'progress'; done: number; total: number; path: string }
  | { type: 'done'; entries: { path: string; size: number; sha256: string }[] }
  | { type: 'error'; message: string };

const post = (m: HashMessage) => (self as unknown as Worker).postMessage(m);

self.onmessage = async (event: MessageEvent<HashRequest>) => {
  try {
    const files = event.data.files;
    const total = files.reduce((n, f) => n + f.file.size, 0);
    let done = 0;
    const entries = [];
    for (const { path, file } of files) {
      post({ type: 'progress', done, total, path });
      let digest: string;
      if (crypto?.subtle && file.size <= WHOLE_FILE_LIMIT) {
        const buffer = await file.arrayBuffer();
        digest = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', buffer)));
        done += file.size;
      } else {
        const hash = sha256.create();
        const reader = file.stream().getReader();
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          hash.update(value);
          done += value.length;
          post({ type: 'progress', done, total, path });
        }
        digest = bytesToHex(hash.digest());
      }
      entries.push({ path, size: file.size, sha256: `0x${digest}` });
    }
    post({ type: 'progress', done: total, total, path: '' });
    post({ type: 'done', entries });
  } catch (error) {
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
};
