import './globals.css';

export const metadata = {
  title: '도장콕 Dojangkok',
  description: '임차인을 위한 전월세 계약 도우미',
};

export default function RootLayout({ children }) {
  return (
    <html lang="ko">
      <body>{children}</body>
    </html>
  );
}
