import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService } from '../../server/src/languageService';
import { taskservHoverUnguarded } from '../../server/src/services/taskservHover';
import { taskservFolding } from '../../server/src/services/taskservSymbols';
const s = new LanguageService();
const p = (t: string) => s.prepare(TextDocument.create('file:///x.k', 'KCL', 1, t));
const multi = `containerd: Containerd = {
    runtimes: "runc,crun,youki"
    runtime_configs: {
        crun: {
            runtime_type: "io.containerd.runc.v2"
        }
    }
    crictl: {
        runtime_endpoint: "/run/containerd/containerd.sock"
    }
}
`;
for (const needle of ['crun: {', 'runtime_endpoint']) {
  const sd = p(multi); const i = multi.indexOf(needle);
  console.log(needle, JSON.stringify(taskservHoverUnguarded(sd, sd.text.positionAt(i + 1))));
}
const broken = 'containerd: Containerd = {\n    plugins: {\n        cri: {\n            sandbox_image: \n';
{ const sd = p(broken); console.log(JSON.stringify(sd.parsed.root, null, 0).slice(0, 600)); console.log(JSON.stringify(taskservHoverUnguarded(sd, sd.text.positionAt(broken.indexOf('sandbox_image') + 1)))); }
const other = '# one\n# two\ncontainerd: Containerd = {\n    config: {\n        disabled_plugins: [\n            "a",\n        ]\n        root: """x\ny"""\n    }\n    plugins: {\n        cri: {\n';
console.log(JSON.stringify(taskservFolding(p(other))));
