// Node provides the WebAssembly global, but @types/node does not declare it
// (it lives in TypeScript's DOM lib). Declare what the section tests use.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
    static customSections(module: Module, name: string): ArrayBuffer[];
  }
  function instantiate(module: Module, imports?: Record<string, Record<string, unknown>>): Promise<{ exports: Record<string, unknown> }>;
}
