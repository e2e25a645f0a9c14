// A stub of Flamenco's job compiler for tests: runs a job type's compileJob under Node with the
// author API as Flamenco documents it (author.Task, author.Command, task.addCommand, job.addTask,
// path.join/basename/dirname, print) and prints the compiled job as JSON.
//   node tests/flamenco_stub.js JOBTYPE.js SETTINGS.json
"use strict";
const fs = require("fs");
const nodePath = require("path");
const vm = require("vm");

const [jobTypeFile, settingsFile] = process.argv.slice(2);
const settings = JSON.parse(fs.readFileSync(settingsFile, "utf8"));
const tasks = [];
const context = {
    print: (...args) => process.stderr.write(args.join(" ") + "\n"),
    path: { join: (...parts) => nodePath.posix.join(...parts), basename: nodePath.posix.basename,
            dirname: nodePath.posix.dirname },
    author: {
        Task: (name, type) => {
            const task = { name, type, commands: [] };
            task.addCommand = (command) => { task.commands.push(command); };
            return task;
        },
        Command: (type, parameters) => ({ type, parameters }),
    },
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(jobTypeFile, "utf8") + "\n;this.JOB_TYPE = JOB_TYPE; this.compileJob = compileJob;", context);
// Flamenco fills settings the submitter left out with their defaults before compiling.
for (const setting of context.JOB_TYPE.settings) {
    if (!(setting.key in settings) && "default" in setting) { settings[setting.key] = setting.default; }
}
const job = { name: "test", settings, addTask: (task) => { tasks.push(task); } };
try {
    context.compileJob(job);
} catch (error) {
    process.stderr.write("compileJob failed: " + error + "\n");
    process.exit(3);
}
process.stdout.write(JSON.stringify({ label: context.JOB_TYPE.label, settings: context.JOB_TYPE.settings,
    tasks: tasks.map((t) => ({ name: t.name, type: t.type, commands: t.commands })) }));
