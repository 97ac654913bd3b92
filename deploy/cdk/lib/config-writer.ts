/**
 * The init container's program (run with `node -e` in the proxy's own image, so no second
 * image is needed). argv: [JSON map of env var -> file path relative to the config dir,
 * config dir, data dir, uid]. ECS delivers each file's content as a secret environment
 * variable (XKS_FILE_n); this writes it to the task-local config volume with mode 0400,
 * owned by the proxy's user, refusing paths that leave the directory and empty secrets.
 * Kept free of CDK imports so a test runs it as it runs in the container.
 */
export const CONFIG_WRITER_SCRIPT = [
  "const fs=require('node:fs'),p=require('node:path');",
  'const [map,dir,data,uid]=process.argv.slice(1);const u=Number(uid);',
  'fs.chownSync(dir,u,u);fs.chownSync(data,u,u);',
  'for(const [v,f] of Object.entries(JSON.parse(map))){',
  "const t=p.join(dir,f);if(!t.startsWith(dir+'/'))throw new Error('bad path '+f);",
  "const s=process.env[v];if(s===undefined||s==='')throw new Error(f+': its secret is empty');",
  "fs.mkdirSync(p.dirname(t),{recursive:true});fs.writeFileSync(t,s.endsWith('\\n')?s:s+'\\n',{mode:0o400});fs.chownSync(t,u,u);",
  "fs.chownSync(p.dirname(t),u,u);console.log('wrote '+t);}",
].join('');
