// The parts of WASI 0.2 the SDK's `env` and `fs` use, for plugin code that imports them
// directly (`/// <reference types="@airlock/sdk/wasi" />`). The build adds these
// interfaces to every plugin's world (see build/index.ts, WASI_VERSION).

declare module 'wasi:cli/environment@0.2.12' {
  export function getEnvironment(): Array<[string, string]>;
}

declare module 'wasi:filesystem/preopens@0.2.12' {
  import type { Descriptor } from 'wasi:filesystem/types@0.2.12';
  export function getDirectories(): Array<[Descriptor, string]>;
}

declare module 'wasi:filesystem/types@0.2.12' {
  export type DescriptorType = 'unknown' | 'block-device' | 'character-device' | 'directory' | 'fifo' | 'symbolic-link' | 'regular-file' | 'socket';
  export interface Datetime {
    seconds: bigint;
    nanoseconds: number;
  }
  export interface DescriptorStat {
    type: DescriptorType;
    linkCount: bigint;
    size: bigint;
    dataAccessTimestamp?: Datetime;
    dataModificationTimestamp?: Datetime;
    statusChangeTimestamp?: Datetime;
  }
  export interface PathFlags {
    symlinkFollow?: boolean;
  }
  export interface OpenFlags {
    create?: boolean;
    directory?: boolean;
    exclusive?: boolean;
    truncate?: boolean;
  }
  export interface DescriptorFlags {
    read?: boolean;
    write?: boolean;
    fileIntegritySync?: boolean;
    dataIntegritySync?: boolean;
    requestedWriteSync?: boolean;
    mutateDirectory?: boolean;
  }
  export interface DirectoryEntry {
    type: DescriptorType;
    name: string;
  }
  export class DirectoryEntryStream {
    readDirectoryEntry(): DirectoryEntry | undefined;
    [Symbol.dispose](): void;
  }
  export class Descriptor {
    read(length: bigint, offset: bigint): [Uint8Array, boolean];
    write(buffer: Uint8Array, offset: bigint): bigint;
    readDirectory(): DirectoryEntryStream;
    createDirectoryAt(path: string): void;
    stat(): DescriptorStat;
    statAt(pathFlags: PathFlags, path: string): DescriptorStat;
    openAt(pathFlags: PathFlags, path: string, openFlags: OpenFlags, flags: DescriptorFlags): Descriptor;
    removeDirectoryAt(path: string): void;
    renameAt(oldPath: string, newDescriptor: Descriptor, newPath: string): void;
    unlinkFileAt(path: string): void;
    [Symbol.dispose](): void;
  }
}
