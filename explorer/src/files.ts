// Model folders in the browser: the files a dropped or chosen folder holds, with the paths and ignore list of
// `prova_core::manifest::hash_dir`, hashed in a worker.
import type { Hex } from 'viem';
import type { FileEntry } from './chain/merkle';
import type { HashMessage } from './hash.worker';

/** Names skipped at any depth, as `prova_core::manifest::DEFAULT_IGNORE`. */
export const DEFAULT_IGNORE = ['.git', '.github', '.gitattributes', '.gitignore', '.hg', '.svn', '.jj'];

export interface FolderFile {
  path: string;
  file: File;
}

/** Keeps the files whose path has no ignored name; `/`-separated paths relative to the folder. */
function keep(files: FolderFile[]): FolderFile[] {
  return files
    .filter((f) => !f.path.split('/').some((part) => DEFAULT_IGNORE.includes(part)))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The files of a folder chosen with `<input type=file webkitdirectory>` (paths lose the folder's own name). */
export function fromInput(list: FileList): { name: string; files: FolderFile[] } {
  const all = [...list].map((file) => ({ rel: file.webkitRelativePath || file.name, file }));
  const name = all[0]?.rel.split('/')[0] ?? '';
  return {
    name,
    files: keep(all.map(({ rel, file }) => ({ path: rel.includes('/') ? rel.split('/').slice(1).join('/') : rel, file }))),
  };
}

/** The files of a folder dropped on the page (paths relative to it), or of loose files dropped together. */
export async function fromDrop(items: DataTransferItemList): Promise<{ name: string; files: FolderFile[] }> {
  const entries = [...items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  const out: FolderFile[] = [];
  const readAll = (dir: FileSystemDirectoryEntry) =>
    new Promise<FileSystemEntry[]>((resolve, reject) => {
      const reader = dir.createReader();
      const acc: FileSystemEntry[] = [];
      const next = () =>
        reader.readEntries((batch) => {
          if (batch.length === 0) resolve(acc);
          else {
            acc.push(...batch);
            next();
          }
        }, reject);
      next();
    });
  const walk = async (entry: FileSystemEntry, prefix: string) => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      for (const child of await readAll(entry as FileSystemDirectoryEntry)) await walk(child, `${prefix}${entry.name}/`);
    }
  };
  if (entries.length === 1 && entries[0].isDirectory) {
    for (const child of await readAll(entries[0] as FileSystemDirectoryEntry)) await walk(child, '');
    return { name: entries[0].name, files: keep(out) };
  }
  for (const entry of entries) await walk(entry, '');
  return { name: 'dropped files', files: keep(out) };
}

let worker: Worker | undefined;

/** The hashing worker, started once (the verify page starts it on load, so it needs nothing more from the server). */
export function hashWorker(): Worker {
  worker ??= new Worker(new URL('./hash.worker.ts', import.meta.url), { type: 'module', name: 'sha256' });
  return worker;
}

/** SHA-256 of every file, in the worker, calling `progress(done, total, path)` as it goes. */
export function hashFiles(files: FolderFile[], progress: (done: number, total: number, path: string) => void): Promise<FileEntry[]> {
  const w = hashWorker();
  return new Promise((resolve, reject) => {
    w.onmessage = (event: MessageEvent<HashMessage>) => {
      const m = event.data;
      if (m.type === 'progress') progress(m.done, m.total, m.path);
      else if (m.type === 'done') resolve(m.entries.map((e) => ({ ...e, sha256: e.sha256 as Hex })));
      else reject(new Error(m.message));
    };
    w.onerror = (event) => reject(new Error(event.message || 'the hashing worker failed'));
    w.postMessage({ files });
  });
}

/** The bytes of a file. */
export async function readBytes(file: File): Promise<Uint8Array> {
  return new Uint8Array(await file.arrayBuffer());
}
