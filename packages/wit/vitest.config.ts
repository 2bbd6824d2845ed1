import shared from '../../vitest.shared.js';

// Several tests spawn the generator or tsc as child processes: the shared timeouts fit.
export default shared;
