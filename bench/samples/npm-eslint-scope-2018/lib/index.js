exports.analyze = function analyze(ast) { return { ast }; };
