const pkgs = process.argv.slice(2);
for (const p of pkgs) await import(p);
globalThis.gc(); globalThis.gc();
const m = process.memoryUsage();
const f=(x)=>(x/1048576).toFixed(1); const v8=await import("node:v8"); console.log(pkgs.join("+").padEnd(40), "rss", f(m.rss), "heapUsed", f(m.heapUsed), "heapTotal", f(m.heapTotal), "ext", f(m.external), JSON.stringify(Object.fromEntries(v8.getHeapSpaceStatistics().map(s=>[s.space_name, f(s.space_size)]))), "code", f(v8.getHeapCodeStatistics().bytecode_and_metadata_size));
