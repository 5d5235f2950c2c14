// Lint rules that keep the layout honest (see ../shared/STYLE.md and docs/README.md):
// each process folder is reached only through its index.ts, and core/ imports no process.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';

const processes = ['zone-control', 'global-control', 'proxy', 'gateway', 'cli'];

/** Forbid deep imports into every process folder except `own`, whose index.ts others may use. */
function behindIndex(own) {
  return processes
    .filter((p) => p !== own)
    .flatMap((p) => [`**/${p}/**`, `!**/${p}/index.ts`, `!**/${p}/index.js`]);
}

export default tseslint.config(
  // deploy/ holds plain-JavaScript samples that stand for any app; they are not project code.
  { ignores: ['node_modules/**', 'coverage/**', 'cli/bin/**', 'deploy/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: processes.map((p) => `**/${p}/**`),
              message: 'core/ is shared by every process and must not import a process folder.',
            },
          ],
        },
      ],
    },
  },
  ...processes.map((p) => ({
    files: [`${p}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: behindIndex(p),
              message: 'Import another process only through its index.ts.',
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: behindIndex(''), message: 'Import a process only through its index.ts.' },
          ],
        },
      ],
    },
  },
  {
    // Tests mirror the source and may reach into a folder's src/ to test one unit.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
