import { cinderProject } from '@cinder/vitest-config';

export default cinderProject('browser');
